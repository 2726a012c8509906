"""The study folder's records: ``trials.json`` and ``search.json``, written atomically.

``trials.json`` is what the search's report reads (:mod:`quanta.report.search_record`)::

    {"objectives": [{"metric", "direction"}],
     "trials": [{"number", "state", "params", "values", "intermediate", "seconds", "worker",
                 "retried_from"}],
     "best": [numbers of the best trial, or of the Pareto front],
     "importances": {param: value}}

``search.json`` holds the search block as resolved, the study's name, its storage URL (the
password masked) and the experiment file. Every worker rewrites ``trials.json`` after each trial
it finishes, from the study's storage, so the file follows a running study; the importances
(Optuna's fANOVA, which takes a moment) are computed when a worker or the study ends.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from quanta.tune.space import Search

TRIALS_FILE = "trials.json"
SEARCH_FILE = "search.json"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def trial_record(trial) -> dict[str, Any]:
    """One Optuna ``FrozenTrial`` as trials.json holds it."""
    seconds = None
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    values = None if trial.values is None else [_finite(v) for v in trial.values]
    if values is not None and None in values:
        values = None
    return {"number": trial.number, "state": trial.state.name, "params": dict(trial.params),
            "values": values,
            "intermediate": {str(step): _finite(value)
                             for step, value in sorted(trial.intermediate_values.items())},
            "seconds": seconds, "worker": trial.user_attrs.get("worker"),
            "retried_from": trial.system_attrs.get("failed_trial")}


def best_numbers(study) -> list[int]:
    """The best trial's number, or the Pareto front's numbers with several objectives."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    if len(study.directions) > 1:
        return sorted(t.number for t in study.best_trials)
    return [study.best_trial.number]


def importances(study) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA) for the first objective; empty with fewer than two
    complete trials or when the values do not vary."""
    import warnings

    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2 or len({t.values[0] for t in complete}) < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = optuna.importance.get_param_importances(
                study, target=lambda t: t.values[0], evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
        except (ValueError, RuntimeError):  # no parameter common to the complete trials
            return {}
    return {name: float(value) for name, value in found.items() if math.isfinite(value)}


def write_trials(folder: Path, study, search: Search, with_importances: bool = False) -> Path:
    """Write ``folder/trials.json`` from the study's storage; returns its path."""
    record = {"objectives": [o.record() for o in search.objectives],
              "trials": [trial_record(t) for t in study.get_trials(deepcopy=False)],
              "best": best_numbers(study),
              "importances": importances(study) if with_importances else {}}
    path = Path(folder) / TRIALS_FILE
    write_atomically(path, json.dumps(record, indent=1, allow_nan=False))
    return path


def write_search(folder: Path, search: Search, study_name: str, storage: str,
                 experiment: str | None) -> Path:
    """Write ``folder/search.json``: the resolved search block, the study and its storage."""
    record = {"study": study_name, "storage": storage, "experiment": experiment,
              "search": search.record()}
    path = Path(folder) / SEARCH_FILE
    write_atomically(path, json.dumps(record, indent=1, allow_nan=False, default=str))
    return path


__all__ = ["SEARCH_FILE", "TRIALS_FILE", "best_numbers", "importances", "trial_record",
           "write_atomically", "write_search", "write_trials"]
