"""Read a finished run directory into plain Python objects for the report.

The run directory is written by the experiment runner; the report reads only
what is in it, so a report can be rebuilt later, on another machine, from a
copied directory::

    run_dir/
      config.yaml                    required: the resolved experiment
      metrics.json                   required: {method: {split: {metric: value}}, "seconds": ...}
      environment.json               optional: versions, device, seed, start time
      <method>/history.jsonl         optional: one JSON record per epoch (networks)
      <method>/predictions.npz       optional: <split>_y, <split>_score[, <split>_weight]

A required file that is missing or unreadable raises
:class:`quanta.errors.UserError` naming the file; optional parts that are
absent are simply left empty.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError

#: Splits in the order the report shows them: the test split is the one that counts.
SPLITS = ("test", "valid", "train")

#: Method names that are safe to use as a directory name inside the run directory.
_METHOD_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class SplitPredictions:
    """One method's saved predictions on one split. Shapes as in :mod:`quanta.evaluate`."""

    y: np.ndarray
    score: np.ndarray
    weight: np.ndarray | None = None

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return self.y, self.score, self.weight


@dataclass
class MethodRecord:
    """Everything the run directory holds about one method."""

    name: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> metric -> value
    seconds: dict[str, float] = field(default_factory=dict)  # "fit", "predict", ...
    history: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, SplitPredictions] = field(default_factory=dict)


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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (a run directory needs it)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot be read ({error})") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({_first_line(error)})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object, received {type(value).__name__}")
    return value


def _read_config(path: Path) -> tuple[dict[str, Any], str]:
    import yaml

    text = _read_text(path)
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({_first_line(error)})") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a mapping of experiment keys, received {type(config).__name__}")
    return config, text


def _numbers(value: Any) -> dict[str, float]:
    """The numeric entries of a mapping as floats (other entries are ignored)."""
    if not isinstance(value, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}: line {number} is not valid JSON ({_first_line(error)})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}: line {number} is not a JSON object")
        records.append(record)
    return records


def _read_predictions(path: Path) -> dict[str, SplitPredictions]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as error:  # numpy raises many types for a damaged archive
        raise UserError(f"{path}: not a readable NumPy .npz archive ({_first_line(error)})") from None
    predictions = {}
    for split in SPLITS:
        y, score = arrays.get(f"{split}_y"), arrays.get(f"{split}_score")
        if y is None or score is None:
            continue
        if len(y) != len(score):
            raise UserError(f"{path}: {split}_y has {len(y)} entries but {split}_score has {len(score)}")
        predictions[split] = SplitPredictions(y, score, arrays.get(f"{split}_weight"))
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
        if name not in names and isinstance(entry, dict) and any(s in entry for s in SPLITS):
            names.append(name)
    return names


def infer_task(methods: list[MethodRecord]) -> str | None:
    """Guess the task from saved predictions (or metric names) when config.yaml does not name it."""
    from quanta.tasks.evaluation import infer_task as guess

    scores = [(split.y, split.score) for method in methods for split in method.predictions.values()]
    return guess(scores, {k for m in methods for values in m.metrics.values() for k in values})


def read_run(run_dir: str | Path) -> RunRecord:
    """Read ``run_dir`` (see the module docstring for its layout) into a :class:`RunRecord`."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"{path}: run directory not found")
    config, config_text = _read_config(path / "config.yaml")
    metrics = _read_json_object(path / "metrics.json")
    env_path = path / "environment.json"
    environment = _read_json_object(env_path) if env_path.exists() else {}

    methods = []
    for name in _method_order(config, metrics):
        entry = metrics.get(name, {})
        record = MethodRecord(name)
        if isinstance(entry, dict):
            record.metrics = {s: _numbers(entry[s]) for s in SPLITS if isinstance(entry.get(s), dict)}
            record.seconds = {k: v for k, v in _numbers(entry.get("seconds")).items() if math.isfinite(v)}
        if _METHOD_NAME.match(name):  # never follow a name like "../x" out of the run directory
            record.history = _read_history(path / name / "history.jsonl")
            record.predictions = _read_predictions(path / name / "predictions.npz")
        methods.append(record)

    from quanta.tasks.evaluation import EVALUATIONS

    task = config.get("task")
    if task not in EVALUATIONS or not EVALUATIONS[task].figures:
        task = infer_task(methods)
    data_path = path / "data.json"
    data = _read_json_object(data_path) if data_path.exists() else {}
    return RunRecord(path, config, config_text, environment, methods, task, data)


__all__ = ["SPLITS", "MethodRecord", "RunRecord", "SplitPredictions", "infer_task", "read_run"]
