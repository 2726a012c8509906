"""One trial of a study: its experiment resolved, its methods fitted on the prepared split, the
validation metrics that are its objectives.

A trial fits the tuned methods (``search.methods``) of its own experiment, the file with the
trial's values set and resolved again by :func:`quanta.config.resolve`, on the split the worker
prepared once, and scores the validation split only: the test split is never touched by a trial.
Its folders are ``trials/<number>/<method>`` of the study folder, so the checkpoint of a trial
that was killed is never read by another. A network reports its per-epoch validation metric to
the trial (:class:`Pruning`), and a pruner may stop it; boosted trees report their rounds when
their records give the metric (``valid_loss`` only).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from quanta.config import resolve, to_yaml
from quanta.errors import UserError
from quanta.train.callbacks import Callback
from quanta.tune.records import write_atomically
from quanta.tune.space import INFERENCE_TIME, Search, applied

TRIALS_FOLDER = "trials"
#: a trial's user attributes in the study
WORKER_ATTR, ERROR_ATTR = "worker", "error"


class TrialFailed(Exception):
    """A trial's methods could not be fitted (a diverging loss): the trial fails, the study goes on."""


class Pruning(Callback):
    """Reports the validation ``metric`` of every epoch (or boosting round) to an Optuna trial and
    stops training, by Optuna's :class:`optuna.TrialPruned`, when the pruner says so.

    An epoch whose records lack ``valid_<metric>`` reports nothing (a method whose rounds give
    only their loss runs to the end).
    """

    def __init__(self, trial, metric: str):
        self.trial, self.key = trial, f"valid_{metric}"

    def on_epoch_end(self, trainer, epoch, logs):
        import optuna

        value = logs.get(self.key)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=int(epoch))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({self.key} {value:.6g})")


class TrialObjective:
    """The objective Optuna calls: one trial's values -> its objective value(s).

    Args:
        raw: the experiment as written (its ``search:`` block is dropped from each trial's).
        search: the validated search block.
        prepared: the worker's preparation (:func:`quanta.experiment.prepare`): task and split.
        folder: the study folder.
        worker: ``host:pid`` of this worker, recorded with each trial.
    """

    def __init__(self, raw: dict[str, Any], search: Search, prepared, folder: Path, worker: str):
        self.raw, self.search, self.prepared = raw, search, prepared
        self.folder, self.worker = Path(folder), worker

    def __call__(self, trial) -> float | list[float]:
        import optuna

        from quanta.tracking import Tracking

        trial.set_user_attr(WORKER_ATTR, self.worker)
        values = self.search.suggest(trial)
        config = self.experiment(values, trial.number)
        directory = self.folder / TRIALS_FOLDER / str(trial.number)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / "config.yaml", to_yaml(config))
        metrics: dict[str, float] = {}
        with Tracking(config, directory, name=f"trial {trial.number}",
                      stopped=(optuna.TrialPruned,)) as tracking:  # the experiment's tracking:
            for entry in config.methods:
                if entry.name in self.search.methods:
                    pruning = entry.name == self.search.method and self.search.pruner != "none"
                    callbacks = [Pruning(trial, self.search.objectives[0].metric)] if pruning else []
                    metrics = self.fit(entry, directory, callbacks, trial, tracking)
        found = []
        for objective in self.search.objectives:
            if objective.metric not in metrics:
                raise UserError(f"search.objective: '{objective.metric}' is not a validation metric "
                                f"of method '{self.search.method}'; it has "
                                f"{', '.join(sorted(metrics))}")
            found.append(float(metrics[objective.metric]))
        return found[0] if len(found) == 1 else found

    def experiment(self, values: dict[str, Any], number: int):
        """The resolved experiment of trial ``number``; a value the experiment refuses stops the study."""
        try:
            config = resolve(applied(self.raw, values))
        except UserError as error:
            shown = ", ".join(f"{path}={value!r}" for path, value in values.items())
            raise UserError(f"search.space: trial {number}'s values ({shown}) are refused: "
                            f"{error}") from None
        for entry in config.methods:  # one line per trial, not a progress display per epoch
            if entry.is_network:
                entry.train["progress"] = False
        return config

    def fit(self, entry, directory: Path, callbacks: list, trial, tracking) -> dict[str, float]:
        """Fit method ``entry`` in ``directory/<name>``; its validation metrics (also logged by
        ``tracking``, a :class:`quanta.tracking.Tracking`)."""
        from quanta import estimators
        from quanta.rundir import MethodDirectory

        task, parts = self.prepared.task_for(entry), self.prepared.parts_for(entry)
        folder = MethodDirectory(directory / entry.name).create()
        tracked = tracking.method(entry, folder.path)
        # first: an epoch the pruner stops at is logged too
        callbacks = ([tracked] if tracked is not None else []) + callbacks
        train = task.training_rows(parts["train"], "data.split train")
        valid = task.training_rows(parts["valid"], "data.split valid")
        start = time.perf_counter()
        estimator = estimators.build(entry, task, train, self.prepared.config.data.standardize)
        try:
            estimator.fit(train, valid, task=task, directory=folder.path, callbacks=callbacks,
                          resume=False, label=entry.name)
        except UserError as error:  # a diverging loss: this trial's values, not the file
            trial.set_user_attr(ERROR_ATTR, str(error))
            raise TrialFailed(str(error)) from None
        if folder.writer:
            estimator.save(folder.path)
        folder.write_history(estimator.history)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        metrics = validation_metrics(estimator, task, parts["valid"])
        if any(o.metric == INFERENCE_TIME for o in self.search.objectives):
            metrics[INFERENCE_TIME] = inference_time(estimator, parts["valid"])
        folder.write_metrics({"valid": metrics},
                             {"fit": fit_seconds, "predict": time.perf_counter() - start})
        folder.seal()
        if tracked is not None:
            tracked.finish({"valid": metrics})
        return metrics


def validation_metrics(estimator, task, valid) -> dict[str, float]:
    """The task's metrics of ``estimator`` on the validation split (as a run's ``valid`` metrics)."""
    from quanta.experiment import score_part

    if len(valid) == 0:
        raise UserError("data.split: the validation split is empty; a search scores its trials "
                        "on it, give it a fraction above 0")
    return score_part(estimator, task, valid, "valid")[0]


def inference_time(estimator, valid, repeats: int = 3) -> float:
    """Seconds per event of predicting the validation split: the fastest of ``repeats`` passes."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        estimator.predict(valid)
        best = min(best, time.perf_counter() - start)
    return best / max(len(valid), 1)


__all__ = ["TRIALS_FOLDER", "Pruning", "TrialFailed", "TrialObjective", "inference_time",
           "validation_metrics"]
