"""Read a study folder of ``quanta tune`` into plain Python objects for the search's report.

The study folder (``<out>/<experiment>-tune/``) holds ``trials.json``, every trial of the study
with the objectives, the best trial(s) and the parameters' importances, and ``search.json``, the
search block as resolved with the study's name and its storage URL (password masked). The report
reads only these two files, never the study's database, so it needs neither Optuna nor torch and
can be rebuilt from a copied folder. ``trials.json`` is required: a missing or damaged one raises a
one-line :class:`quanta.errors.UserError` naming the file and the field; ``search.json`` is used
when present.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanta.errors import UserError, first_line, shown

TRIALS_FILE = "trials.json"
SEARCH_FILE = "search.json"
BEST_FILE = "best.yaml"
BEST_FOLDER = "best"
#: a trial's states, in the order the report counts them
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
#: the directions of an objective, in Optuna's words and in quanta's short ones
_DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


@dataclass
class Objective:
    """One objective of the study: a validation metric and whether it is minimised or maximised."""

    metric: str
    direction: str  # "minimize" or "maximize"

    @property
    def maximised(self) -> bool:
        return self.direction == "maximize"


@dataclass
class Trial:
    """One trial as trials.json holds it."""

    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    intermediate: dict[int, float] = field(default_factory=dict)  # epoch -> reported value
    seconds: float | None = None
    worker: str | None = None
    retried_from: int | None = None


@dataclass
class StudyRecord:
    """Everything the study folder holds for the report."""

    path: Path
    objectives: list[Objective]
    trials: list[Trial]
    best: list[int]
    importances: dict[str, float]
    search: dict[str, Any]  # search.json as written; empty when the folder has none

    @property
    def complete(self) -> list[Trial]:
        """The finished trials with a value for every objective."""
        return [t for t in self.trials if t.state == "COMPLETE" and t.values is not None
                and len(t.values) == len(self.objectives)]

    @property
    def best_trials(self) -> list[Trial]:
        by_number = {t.number: t for t in self.trials}
        return [by_number[n] for n in self.best if n in by_number]

    @property
    def parameters(self) -> list[str]:
        """Every parameter a trial sampled, in the search space's order (a layer list as its
        ``<path>.layers`` and then ``<path>.width_<i>``), then any other as first seen."""
        sampled = _unique([name for trial in self.trials for name in trial.params])
        names: list[str] = []
        for key in self.space:
            parts = [name for name in sampled if name.startswith(f"{key}.")]
            names += [name for name in sampled if name == key]
            names += sorted(parts, key=lambda name: (not name.endswith(".layers"),
                                                     _layer_index(name), name))
        return names + [name for name in sampled if name not in names]

    @property
    def short_names(self) -> dict[str, str]:
        """Each parameter's path without the dotted words all of them share at the front
        (``methods.mlp.train.lr`` and ``methods.mlp.params.dropout`` -> ``train.lr``,
        ``params.dropout``); a single parameter keeps its last two words."""
        names = self.parameters
        parts = [name.split(".") for name in names]
        if len(parts) == 1:
            return {names[0]: ".".join(parts[0][-2:])}
        shared = 0
        while parts and all(len(p) > shared + 1 and p[shared] == parts[0][shared] for p in parts):
            shared += 1
        return {name: ".".join(p[shared:]) for name, p in zip(names, parts, strict=True)}

    @property
    def space(self) -> dict[str, Any]:
        """The search space of search.json (``{parameter path: declaration}``), or empty."""
        space = setting(self.search, "space")
        return space if isinstance(space, dict) else {}

    def declaration(self, name: str) -> dict[str, Any]:
        """The space's declaration of parameter ``name``: its own entry, else that of the entry it
        is part of (a layer list's width of one layer), else empty."""
        space = self.space
        if isinstance(space.get(name), dict):
            return space[name]
        owners = [key for key in space if name.startswith(f"{key}.width_")]
        entry = space[max(owners, key=len)] if owners else {}
        return entry["width"] if isinstance(entry, dict) and isinstance(entry.get("width"), dict) \
            else {}

    def is_log(self, name: str) -> bool:
        """Whether the space declares parameter ``name`` on a log scale (and its values allow it)."""
        if self.declaration(name).get("log") is not True:
            return False
        values = [t.params[name] for t in self.trials if name in t.params]
        return all(_is_number(v) and v > 0 for v in values)

    def choices(self, name: str) -> list[Any] | None:
        """The choices of a categorical parameter (as declared, else as sampled); None for a
        number."""
        declared = self.declaration(name).get("choice")
        values = [t.params[name] for t in self.trials if name in t.params]
        if isinstance(declared, list):
            return declared + [v for v in _unique(values) if v not in declared]
        if all(_is_number(v) for v in values):
            return None
        return sorted(_unique(values), key=str)


def setting(search: dict[str, Any], key: str) -> Any:
    """``search.json``'s ``key``: at its top, else in the search block it holds (None if absent)."""
    if key in search:
        return search[key]
    inner = search.get("search")
    return inner.get(key) if isinstance(inner, dict) else None


def _layer_index(name: str) -> int:
    """``i`` of a layer list's ``<path>.width_<i>`` (0 for any other name)."""
    last = name.rsplit(".", 1)[-1]
    digits = last.removeprefix("width_")
    return int(digits) if last.startswith("width_") and digits.isdigit() else 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (the study folder of quanta tune needs it)") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte at position {error.start})") from None
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({first_line(error)})") from None


def _number(value: Any, where: str, none: bool = False) -> float | None:
    """``value`` as a float (None allowed with ``none``), else a one-line error naming ``where``."""
    if value is None and none:
        return None
    if not _is_number(value):
        raise UserError(f"{where}: expected a number, received {shown(value)}")
    return float(value)


def _integer(value: Any, where: str, none: bool = False) -> int | None:
    if value is None and none:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"{where}: expected an integer, received {shown(value)}")
    return value


def _objectives(raw: Any, where: str) -> list[Objective]:
    if not isinstance(raw, list) or not raw:
        raise UserError(f"{where}: expected a list of {{metric, direction}}, received {shown(raw)}")
    objectives = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("metric"), str):
            raise UserError(f"{where}[{i}]: expected {{metric, direction}}, received {shown(entry)}")
        direction = _DIRECTIONS.get(str(entry.get("direction")).lower())
        if direction is None:
            raise UserError(f"{where}[{i}].direction: expected minimize or maximize, received "
                            f"{shown(entry.get('direction'))}")
        objectives.append(Objective(entry["metric"], direction))
    return objectives


def _trial(raw: Any, where: str, objectives: int) -> Trial:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a trial object, received {shown(raw)}")
    state = raw.get("state")
    if state not in STATES:
        raise UserError(f"{where}.state: expected one of {', '.join(STATES)}, received {shown(state)}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise UserError(f"{where}.params: expected an object, received {shown(params)}")
    values = raw.get("values")
    if values is not None:
        if not isinstance(values, list) or len(values) != objectives:
            raise UserError(f"{where}.values: expected a list of {objectives} number(s) or null, "
                            f"received {shown(values)}")
        values = [_number(v, f"{where}.values[{i}]") for i, v in enumerate(values)]
        if not all(math.isfinite(v) for v in values):
            values = None  # a trial whose metric was undefined has no place in the figures
    intermediate = raw.get("intermediate") or {}
    if not isinstance(intermediate, dict):
        raise UserError(f"{where}.intermediate: expected {{epoch: value}}, received "
                        f"{shown(intermediate)}")
    steps = {}
    for epoch, value in intermediate.items():
        try:
            step = int(epoch)
        except ValueError:
            raise UserError(f"{where}.intermediate: epoch {shown(epoch)} is not an integer") from None
        number = _number(value, f"{where}.intermediate[{epoch}]", none=True)
        if number is not None and math.isfinite(number):
            steps[step] = number
    worker = raw.get("worker")
    return Trial(
        number=_integer(raw.get("number"), f"{where}.number"),
        state=state,
        params=params,
        values=values,
        intermediate=dict(sorted(steps.items())),
        seconds=_number(raw.get("seconds"), f"{where}.seconds", none=True),
        worker=None if worker is None else str(worker),
        retried_from=_integer(raw.get("retried_from"), f"{where}.retried_from", none=True),
    )


def read_study(folder: str | Path) -> StudyRecord:
    """The study folder ``folder`` as a :class:`StudyRecord`; a one-line error naming the file and
    its field when trials.json is missing or damaged, or search.json is damaged."""
    path = Path(folder)
    if not path.is_dir():
        raise UserError(f"{path}: no such study folder")
    trials_path = path / TRIALS_FILE
    raw = _read_json(trials_path)
    if not isinstance(raw, dict):
        raise UserError(f"{trials_path}: expected a JSON object, received {type(raw).__name__}")
    objectives = _objectives(raw.get("objectives"), f"{trials_path}: objectives")
    listed = raw.get("trials")
    if not isinstance(listed, list):
        raise UserError(f"{trials_path}: trials: expected a list, received {shown(listed)}")
    trials = [_trial(t, f"{trials_path}: trials[{i}]", len(objectives))
              for i, t in enumerate(listed)]
    best = raw.get("best") or []
    if not isinstance(best, list):
        raise UserError(f"{trials_path}: best: expected a list of trial numbers, received "
                        f"{shown(best)}")
    best = [_integer(n, f"{trials_path}: best[{i}]") for i, n in enumerate(best)]
    importances = raw.get("importances") or {}
    if not isinstance(importances, dict):
        raise UserError(f"{trials_path}: importances: expected {{parameter: value}}, received "
                        f"{shown(importances)}")
    importances = {str(k): _number(v, f"{trials_path}: importances[{k}]")
                   for k, v in importances.items()}
    search: dict[str, Any] = {}
    if (path / SEARCH_FILE).exists():
        search = _read_json(path / SEARCH_FILE)
        if not isinstance(search, dict):
            raise UserError(f"{path / SEARCH_FILE}: expected a JSON object, received "
                            f"{type(search).__name__}")
    return StudyRecord(path, objectives, sorted(trials, key=lambda t: t.number), best,
                       importances, search)


__all__ = ["BEST_FILE", "BEST_FOLDER", "SEARCH_FILE", "STATES", "TRIALS_FILE", "Objective",
           "StudyRecord", "Trial", "read_study", "setting"]
