"""Read a finished run directory into plain Python objects for the report.

The report reads only what the run directory holds (its layout is in
:mod:`quanta.rundir`), so a report can be rebuilt later, on another machine,
from a copied directory. ``config.yaml`` and ``metrics.json`` are required;
``environment.json``, ``data.json`` and each method's ``history.jsonl``,
``predictions.npz`` and decision-tree record (``decision_tree.json``, see
:data:`quanta.evaluate.tree_figure.TREE_FILE`) are used when present. A required
file that is missing or unreadable raises :class:`quanta.errors.UserError`
naming the file; optional parts that are absent are simply left empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.data.split import SPLITS
from quanta.errors import UserError
from quanta.evaluate.tree_figure import TREE_FILE
from quanta.rundir import METHOD_NAME, RunDirectory

#: Splits in the order the report shows them: the test split is the one that counts.
REPORT_ORDER = tuple(reversed(SPLITS))


@dataclass
class SplitPredictions:
    """One method's saved predictions on one split. Shapes as in :mod:`quanta.evaluate`.

    ``uncertainty`` is the standard deviation of each score, shaped like it, when the
    method predicts one (``<split>_uncertainty`` in ``predictions.npz``).
    """

    y: np.ndarray | None  # None: an unsupervised method on data without labels
    score: np.ndarray
    weight: np.ndarray | None = None
    uncertainty: np.ndarray | None = None

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self.y, self.score, self.weight


@dataclass
class MethodRecord:
    """Everything the run directory holds about one method."""

    name: str
    # split -> metric -> value; flags such as rejection_at_0.3_lower_limit as 1.0 / 0.0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # "fit", "predict", ...
    history: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, SplitPredictions] = field(default_factory=dict)
    tree: dict[str, Any] | None = None  # a decision tree's top levels, as its folder holds them


@dataclass
class RunRecord:
    """A run directory, read: config, environment and the methods in config order."""

    path: Path
    config: dict[str, Any]
    config_text: str
    environment: dict[str, Any]
    methods: list[MethodRecord]
    task: str | None
    data: dict[str, Any] = field(default_factory=dict)  # data.json: features, classes, split, files skipped

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)


def _numbers(value: Any) -> dict[str, float]:
    """The numeric entries of a mapping as floats, flags (``true``/``false``) as 1.0/0.0.

    Other entries (text, lists, null) are ignored.
    """
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}


def _predictions(arrays: dict[str, np.ndarray], path: Path) -> dict[str, SplitPredictions]:
    predictions = {}
    for split in REPORT_ORDER:
        y, score = arrays.get(f"{split}_y"), arrays.get(f"{split}_score")
        if score is None:
            continue
        if y is not None and len(y) != len(score):
            raise UserError(f"{path}: {split}_y has {len(y)} entries but {split}_score has {len(score)}")
        uncertainty = arrays.get(f"{split}_uncertainty")
        if uncertainty is not None and uncertainty.shape != score.shape:
            raise UserError(f"{path}: {split}_uncertainty has shape {uncertainty.shape} but "
                            f"{split}_score has {score.shape}")
        predictions[split] = SplitPredictions(y, score, arrays.get(f"{split}_weight"), uncertainty)
    return predictions


def _method_order(config: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    """Method names in config order, then any further names found in metrics.json."""
    names: list[str] = []
    methods = config.get("methods")
    if isinstance(methods, list):
        for entry in methods:
            if isinstance(entry, dict) and entry.get("name") is not None:
                names.append(str(entry["name"]))
    for name, entry in metrics.items():
        # tolerate extra top-level keys: a method entry holds at least one split
        if name not in names and isinstance(entry, dict) and any(s in entry for s in REPORT_ORDER):
            names.append(name)
    return names


def infer_task(methods: list[MethodRecord]) -> str | None:
    """Guess the task from saved predictions (or metric names) when config.yaml does not name it."""
    from quanta.tasks.evaluation import infer_task as guess

    scores = [(split.y, split.score) for method in methods for split in method.predictions.values()
              if split.y is not None]
    return guess(scores, {k for m in methods for values in m.metrics.values() for k in values})


def read_run(run_dir: str | Path) -> RunRecord:
    """Read ``run_dir`` (see :mod:`quanta.rundir` for its layout) into a :class:`RunRecord`."""
    run = RunDirectory(run_dir, writer=False)
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    config, config_text = run.read_config_text()
    metrics = run.read_metrics()

    methods = []
    for name in _method_order(config, metrics):
        entry = metrics.get(name, {})
        record = MethodRecord(name)
        if isinstance(entry, dict):
            record.metrics = {s: _numbers(entry[s]) for s in REPORT_ORDER if isinstance(entry.get(s), dict)}
            record.seconds = {k: v for k, v in _numbers(entry.get("seconds")).items() if math.isfinite(v)}
        if METHOD_NAME.match(name):  # never follow a name like "../x" out of the run directory
            folder = run.method(name)
            folder.verify()  # the report vouches for every file of the method
            record.history = folder.read_history()
            record.predictions = _predictions(folder.read_predictions(), folder / folder.PREDICTIONS)
            if (folder / TREE_FILE).is_file():
                record.tree = folder.read_json(TREE_FILE)
        methods.append(record)

    from quanta.tasks.evaluation import EVALUATIONS

    task = config.get("task")
    if task not in EVALUATIONS:  # a run whose config does not name a known task
        task = infer_task(methods)
    return RunRecord(run.path, config, config_text, run.read_environment(), methods, task, run.read_data() or {})


__all__ = ["REPORT_ORDER", "MethodRecord", "RunRecord", "SplitPredictions", "infer_task", "read_run"]
