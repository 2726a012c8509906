"""Hyperparameter search with Optuna: `quanta tune EXPERIMENT.yaml` and ``quanta.tune(...)``.

The experiment's ``search:`` block (:mod:`~quanta.tune.space`) declares the sampler, the trial
budget, the objective(s), the pruner and the parameters by their path in the experiment file.
Each trial (:mod:`~quanta.tune.objective`) fits the tuned methods of its own resolved experiment
on one prepared split and is scored on the validation split; workers (:mod:`~quanta.tune.study`)
share the study through its storage (:mod:`~quanta.tune.storage`: SQLite, PostgreSQL, heartbeats);
the study folder's records are :mod:`~quanta.tune.records`; the best configuration is written as
a runnable experiment and retrained once, scoring the test split (:mod:`~quanta.tune.best`); the
command and the Python API are :mod:`~quanta.tune.command`. Optuna and torch are imported only
when a search runs.

The package is callable: ``quanta.tune(experiment, trials=..., jobs=...)`` is
:func:`quanta.tune.command.tune`, while ``quanta.tune.space``, ``quanta.tune.storage``, ... stay
its modules (a function of the same name would hide them from ``import quanta.tune.study``).
"""

from __future__ import annotations

import sys
import types

from quanta.tune.command import TuneResult, tune, tune_command


class _CallablePackage(types.ModuleType):
    """This package, which calling runs a search (:func:`quanta.tune.command.tune`)."""

    def __call__(self, experiment, **options) -> TuneResult:
        return tune(experiment, **options)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = ["TuneResult", "tune", "tune_command"]
