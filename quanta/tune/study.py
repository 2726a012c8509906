"""The Optuna study of a search and the worker loop that runs its trials.

A worker opens the study (:func:`open_study`: storage from :mod:`quanta.tune.storage`, the
sampler seeded from the experiment's seed, the pruner, the objectives' directions), prepares the
experiment's split once, and runs trials until the study holds ``search.trials`` finished trials
(COMPLETE or PRUNED), counted in the storage over every worker and every restart. Before each
trial, under a lock shared by the workers of this machine (``study.lock`` in the study folder),
it fails the trials of dead workers (their heartbeat stopped; :mod:`quanta.tune.storage` enqueues
each again), counts, and asks for the next trial only when the budget is not yet taken by the
finished, running and waiting trials, so that workers of one machine never run more trials than
the budget. While the remaining budget is held by trials running elsewhere it waits: they finish,
or their worker died and the heartbeat hands them back. Workers on several machines
(PostgreSQL) share no lock: near the end each may start one trial more than the budget.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanta.errors import UserError, first_line
from quanta.tune.objective import ERROR_ATTR, TrialFailed, TrialObjective
from quanta.tune.records import write_trials
from quanta.tune.space import Search

LOCK_FILE = "study.lock"
#: the study's user attribute holding what a restart must not change (objectives, methods, space)
SEARCH_ATTR = "quanta:search"
#: failed trials in a row after which a worker stops (every trial diverging is the space's fault)
FAILURES_IN_A_ROW = 5


@dataclass
class WorkerPlan:
    """What one worker process needs, in plain data (it is sent to spawned processes)."""

    raw: dict[str, Any]  # the experiment as written
    folder: str  # the study folder
    storage: str | None  # --storage (None: SQLite in the folder)
    study_name: str
    sampler: str | None  # --sampler
    trials: int | None  # --trials
    timeout: float | None
    index: int = 0  # this worker's number among the command's workers
    threads: int | None = None  # torch threads (None: leave them)


def worker_name() -> str:
    """``host:pid`` of this process, as trials record their worker."""
    return f"{socket.gethostname()}:{os.getpid()}"


def quiet_optuna() -> None:
    """Optuna logs nothing below warnings; quanta prints one line per trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def sampler_for(search: Search, seed: int):
    """The search's Optuna sampler, seeded by ``seed``."""
    import optuna

    if search.sampler == "grid":
        return optuna.samplers.GridSampler(search.grid(), seed=seed)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = max(2, min(10, search.trials // 3))  # a short study still leaves trials to model
    if search.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


def pruner_for(search: Search):
    """The search's Optuna pruner: median of earlier trials at the same epoch, successive halving."""
    import optuna

    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(1, search.trials // 4)),
                                           n_warmup_steps=1)
    if search.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_study(plan: WorkerPlan, search: Search, seed: int):
    """The study of ``plan`` (created or loaded), its sampler seeded by ``seed``.

    A study started with other objectives, methods or space is refused, unless it holds no
    finished, running or waiting trial (a first trial that named a wrong metric): it then
    starts afresh.
    """
    import optuna

    from quanta.tune.storage import open_storage

    storage = open_storage(plan.storage, Path(plan.folder))
    directions = [o.direction for o in search.objectives]
    fingerprint = search.fingerprint()
    study = _create(storage, plan, search, directions)
    same = [d.name.lower() for d in study.directions] == directions and \
        study.user_attrs.get(SEARCH_ATTR, fingerprint) == fingerprint
    if not same:
        found = counts(study)
        if any(found.get(state) for state in ("COMPLETE", "PRUNED", "RUNNING", "WAITING")):
            raise UserError(f"--study {plan.study_name}: the study was started with another "
                            "search: block (objective, methods or space); restore it, or give "
                            "another --study")
        optuna.delete_study(study_name=plan.study_name, storage=storage)
        study = _create(storage, plan, search, directions)
    if SEARCH_ATTR not in study.user_attrs:
        study.set_user_attr(SEARCH_ATTR, fingerprint)
    existing = len(study.get_trials(deepcopy=False))
    study.sampler = sampler_for(search, _mixed(seed, plan.index, existing))
    return study


def _create(storage, plan: WorkerPlan, search: Search, directions: list[str]):
    import optuna

    return optuna.create_study(storage=storage, study_name=plan.study_name, load_if_exists=True,
                               directions=directions, pruner=pruner_for(search))


def _mixed(*numbers: int) -> int:
    """One 32-bit seed from several integers (a restart or a second worker draws anew)."""
    import numpy as np

    return int(np.random.SeedSequence([abs(int(n)) for n in numbers]).generate_state(1)[0])


class StudyLock:
    """An ``fcntl`` lock on ``study.lock`` held from counting the trials to asking for one."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self.handle = None

    def acquire(self) -> None:
        self.handle = open(self.path, "a")  # noqa: SIM115 (held across the objective's first line)
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def counts(study) -> dict[str, int]:
    """How many trials of the study are in each state."""
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


def finished(study) -> int:
    """Trials that count towards the budget: COMPLETE and PRUNED."""
    found = counts(study)
    return found.get("COMPLETE", 0) + found.get("PRUNED", 0)


def run_trials(plan: WorkerPlan, raw: dict[str, Any], search: Search, config, say=print) -> int:
    """Run trials of the study until it holds ``search.trials`` finished ones, or the timeout;
    returns how many this worker finished."""
    import optuna

    from quanta.experiment import prepare
    from quanta.tune.storage import GRACE_PERIOD

    quiet_optuna()
    if plan.threads:
        import torch

        torch.set_num_threads(plan.threads)
    folder = Path(plan.folder)
    folder.mkdir(parents=True, exist_ok=True)
    study = open_study(plan, search, config.seed)
    prepared = prepare(config)
    objective = TrialObjective(raw, search, prepared, folder, worker_name())
    lock, start, done, failures, last_error = StudyLock(folder), time.monotonic(), 0, 0, ""

    def first_release(trial):
        lock.release()  # the trial exists: other workers may count it now
        return objective(trial)

    def announce(study, trial) -> None:
        nonlocal done, failures, last_error
        write_trials(folder, study, search)
        say(trial_line(trial, search))
        failed = trial.state.name == "FAIL"
        last_error = trial.user_attrs.get(ERROR_ATTR, last_error)
        failures = failures + 1 if failed else 0
        done += 0 if failed else 1

    while plan.timeout is None or time.monotonic() - start < plan.timeout:
        lock.acquire()
        try:
            optuna.storages.fail_stale_trials(study)
            found = counts(study)
            held = found.get("COMPLETE", 0) + found.get("PRUNED", 0)
            if held >= search.trials:
                break
            if not found.get("WAITING") and held + found.get("RUNNING", 0) >= search.trials:
                lock.release()  # the rest of the budget runs elsewhere: wait for it
                time.sleep(min(5.0, GRACE_PERIOD / 6))
                continue
            study.optimize(first_release, n_trials=1, catch=(TrialFailed,), callbacks=[announce])
        finally:
            lock.release()
        if failures >= FAILURES_IN_A_ROW:
            raise UserError(f"search: {failures} trials in a row failed; the last: {last_error}")
    write_trials(folder, study, search, with_importances=True)
    return done


def trial_line(trial, search: Search) -> str:
    """One line of a finished trial: number, state, objective value(s), parameters, seconds."""
    state = trial.state.name
    text = f"trial {trial.number} {state}"
    if trial.values is not None and state == "COMPLETE":
        text += " " + ", ".join(f"{o.metric} {v:.6g}" for o, v in zip(search.objectives,
                                                                        trial.values, strict=True))
    elif state == "PRUNED" and trial.intermediate_values:
        epoch = max(trial.intermediate_values)
        text += (f" at epoch {epoch} ({search.objectives[0].metric} "
                 f"{trial.intermediate_values[epoch]:.6g})")
    values = search.values_of(trial.params)
    text += " " + " ".join(f"{short_name(p, search)}={_shown(v)}" for p, v in values.items())
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        text += f" ({(trial.datetime_complete - trial.datetime_start).total_seconds():.1f} s)"
    if state == "FAIL" and ERROR_ATTR in trial.user_attrs:
        text += f": {first_line(Exception(trial.user_attrs[ERROR_ATTR]))}"
    return text


def short_name(path: str, search: Search) -> str:
    """A parameter's path without ``methods.<name>.params.`` when one method is tuned."""
    if len(search.methods) == 1:
        for section in ("params", "train"):
            prefix = f"methods.{search.method}.{section}."
            if path.startswith(prefix):
                return path[len(prefix):]
    return path.removeprefix("methods.")


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace(" ", "")


__all__ = ["FAILURES_IN_A_ROW", "LOCK_FILE", "StudyLock", "WorkerPlan", "counts", "finished",
           "open_study", "pruner_for", "quiet_optuna", "run_trials", "sampler_for", "short_name",
           "trial_line", "worker_name"]
