#!/bin/bash
# HTCondor wrapper of htcondor_train.sub: run the experiment in ./RUN_DIR, asking quanta to save its
# place and exit (status 85, the submit file's checkpoint_exit_code) every CHECKPOINT_SECONDS, so
# that HTCondor copies the checkpoint off the machine and restarts this same command.
#
#   htcondor_train.sh EXPERIMENT [RUN_DIR [CHECKPOINT_SECONDS]]
set -u
EXPERIMENT=${1:?usage: htcondor_train.sh EXPERIMENT [RUN_DIR [CHECKPOINT_SECONDS]]}
RUN_DIR=${2:-run}
CHECKPOINT_SECONDS=${3:-3600}

# simulated data are cached beside the run, and travel with its checkpoint (transfer_checkpoint_files)
export QUANTA_CACHE=${QUANTA_CACHE:-$PWD/cache}
mkdir -p "$QUANTA_CACHE"
echo "$(date -u +%FT%TZ) $(hostname): quanta run $(basename "$EXPERIMENT") --run-dir $RUN_DIR"
# timeout sends SIGUSR1 after CHECKPOINT_SECONDS (--foreground: to quanta alone, not its workers)
# and passes on the SIGTERM of an eviction;
# --preserve-status returns quanta's own status: 0 done, 85 place saved, 2 a user error.
# The experiment file sits in the sandbox under its base name (transfer_input_files).
exec timeout --foreground --preserve-status --signal=USR1 "$CHECKPOINT_SECONDS" \
    quanta run "$(basename "$EXPERIMENT")" --run-dir "$RUN_DIR"
