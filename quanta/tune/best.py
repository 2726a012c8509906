"""The outcome of a study: its best configuration as a runnable experiment, retrained once.

``best.yaml`` is the experiment file with the best trial's values set and no ``search:`` block,
so that ``quanta run best.yaml`` trains it. It is retrained with
:func:`quanta.experiment.run_experiment` into ``best/`` of the study folder: the only time the
test split is scored. A command repeated after the study finished keeps a finished retraining
of the same configuration instead of training it again. With several objectives the best trial
is the member of the Pareto front best in the first objective.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from quanta.errors import UserError
from quanta.tune.records import write_atomically
from quanta.tune.space import Search, applied

BEST_FILE = "best.yaml"
BEST_FOLDER = "best"


def best_trial(study, search: Search):
    """The trial whose configuration is retrained (None when no trial completed)."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    if len(search.objectives) == 1:
        return study.best_trial
    sign = -1.0 if search.objectives[0].direction == "maximize" else 1.0
    return min(study.best_trials, key=lambda t: (sign * t.values[0], t.number))


def write_best(folder: Path, raw: dict[str, Any], search: Search, trial, study_name: str) -> Path:
    """Write ``folder/best.yaml``: the experiment with ``trial``'s values, no search block."""
    values = search.values_of(trial.params)
    scores = ", ".join(f"{o.metric} {v:.6g}" for o, v in zip(search.objectives, trial.values,
                                                              strict=True))
    header = (f"# The best configuration of study '{study_name}' (trial {trial.number}: validation "
              f"{scores}),\n# written by quanta tune. Train it with: quanta run {BEST_FILE}\n")
    path = Path(folder) / BEST_FILE
    body = yaml.safe_dump(applied(raw, values), sort_keys=False, default_flow_style=None)
    write_atomically(path, header + body)
    return path


def retrain(folder: Path, say=print):
    """Train ``folder/best.yaml`` into ``folder/best/``; the finished run's directory and its test
    metrics ``{method: {metric: value}}``."""
    from quanta.config import read_experiment, resolve, to_yaml
    from quanta.experiment import run_experiment

    best, parent = Path(folder) / BEST_FILE, Path(folder) / BEST_FOLDER
    expected = yaml.safe_load(to_yaml(resolve(read_experiment(best))))
    earlier = _finished_run(parent, expected)
    if earlier is not None:
        say(f"best configuration: already retrained in {earlier}")
        from quanta.rundir import RunDirectory

        metrics = RunDirectory.open(earlier).read_metrics()
        return earlier, {name: values.get("test", {}) for name, values in metrics.items()}
    say(f"best configuration: retraining {best} (the test split is scored once, here)")
    run = run_experiment(best, out=parent)
    return run.directory, {name: values.get("test", {}) for name, values in run.metrics.items()}


def _finished_run(parent: Path, expected: dict[str, Any]) -> Path | None:
    """A finished run below ``parent`` whose resolved experiment is ``expected`` (wherever it was
    written from: ``output`` is not compared)."""
    from quanta.rundir import RunDirectory

    expected = {key: value for key, value in expected.items() if key != "output"}
    for path in sorted((parent / expected["name"]).glob("*"), reverse=True):
        if not (path / "metrics.json").is_file() or not (path / "config.yaml").is_file():
            continue
        try:
            written = RunDirectory.open(path).read_config()
            if {key: value for key, value in written.items() if key != "output"} == expected:
                return path
        except UserError:  # a damaged earlier run is not reused
            continue
    return None


__all__ = ["BEST_FILE", "BEST_FOLDER", "best_trial", "retrain", "write_best"]
