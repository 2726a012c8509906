"""A torchrun job for the DDP tests: quanta's own entry points, watched or made to fail from outside.

``python -m torch.distributed.run --nproc-per-node 2 tests/train/ddp_job.py MODE ...``

- ``run AUDIT EXPERIMENT OUT``: :func:`quanta.experiment.run_experiment` (without the report,
  which takes longer than the training) on every rank; each rank other than 0 records, through a
  Python audit hook, every file below ``OUT`` it opens for writing, every folder it makes there
  and every file it renames or removes, and writes the list to ``AUDIT.rank<r>.json`` at the end.
- ``fail EXPERIMENT OUT``: :func:`quanta.experiment.run_experiment` with a callback that raises on
  rank 1 when its second epoch starts, naming the time of the raise (``time.time()``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: torchrun runs there

#: The tests' experiment: a small MLP on the pulses' features, a few seconds of training.
EXPERIMENT = {
    "name": "ddp-small", "seed": 3, "task": "binary",
    "data": {"source": "pulses", "view": "features", "size": 2400, "split": [0.5, 0.25, 0.25]},
    "importance": {"repeats": 0},
    # 1,200 training rows: 18 batches of 64 and one of 48, every one cut into two equal slices
    "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [16, 16]},
                 "train": {"epochs": 4, "batch_size": 64, "lr": 0.003, "patience": 0,
                           "progress": False, "device": "cpu"}}],
}

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _watch(record: list[str], below: str) -> None:
    """Note every write this process makes below folder ``below`` (audit events of CPython)."""
    below = os.path.abspath(below)

    def inside(path) -> bool:
        return (isinstance(path, (str, bytes, os.PathLike))
                and os.path.abspath(os.fsdecode(path)).startswith(below))

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
            if writes and inside(path):
                record.append(f"open {os.fsdecode(path)}")
        elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate") and (
                inside(args[0]) or (event == "os.rename" and inside(args[1]))):
            record.append(f"{event} {os.fsdecode(args[0])}")

    sys.addaudithook(hook)


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's ``--master-port``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun_command(*args: str, ranks: int = 2) -> list[str]:
    """``python -m torch.distributed.run --nproc-per-node RANKS --master-port <free> ARGS``."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks),
            "--master-port", str(free_port()), *args]


def torchrun_env() -> dict[str, str]:
    """This environment (the test's data cache included), one thread per rank."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def torchrun(*args: str, ranks: int = 2, timeout: float = 180) -> subprocess.CompletedProcess:
    """A torchrun job of ``ranks`` processes run to its end, with its text output."""
    return subprocess.run(torchrun_command(*args, ranks=ranks), cwd=ROOT, env=torchrun_env(),
                          capture_output=True, text=True, timeout=timeout)


def run(audit: str, experiment: str, out: str) -> int:
    from quanta.experiment import run_experiment

    rank = int(os.environ.get("RANK", "0"))
    record: list[str] = []
    if rank != 0:
        _watch(record, out)
    run_experiment(experiment, out=out, verbose=False, report=False)
    with open(f"{audit}.rank{rank}.json", "w") as stream:
        json.dump(record, stream)
    return 0


def fail(experiment: str, out: str) -> int:
    from quanta.experiment import run_experiment
    from quanta.train.callbacks import Callback

    class FailOnRankOne(Callback):
        def on_epoch_start(self, trainer, epoch):
            if epoch == 2 and os.environ.get("RANK") == "1":
                raise RuntimeError(f"rank 1 fails on purpose at {time.time():.3f}")

    run_experiment(experiment, out=out, verbose=False, report=False, callbacks=[FailOnRankOne()])
    return 0


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    sys.exit(run(*rest) if mode == "run" else fail(*rest))
