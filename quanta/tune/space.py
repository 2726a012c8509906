"""The ``search:`` block of an experiment file: what `quanta tune` searches, validated once.

::

    search:
      sampler: tpe                 # grid | random | tpe | gp
      trials: 30                   # finished trials (complete or pruned) the study should hold
      objective: auc               # a validation metric; or {metric, direction}; or a list of them
      pruner: median               # none | median | successive_halving (one objective only)
      methods: [mlp]               # the methods each trial fits (default: those the space names)
      space:
        methods.mlp.train.lr: {float: [1.0e-4, 1.0e-1], log: true}
        methods.mlp.params.dropout: {float: [0, 0.5], grid: [0, 0.25]}
        methods.mlp.train.optimizer: {choice: [adam, momentum]}
        methods.mlp.train.momentum: {float: [0.5, 0.99], when: {methods.mlp.train.optimizer: momentum}}
        methods.mlp.params.hidden: {layers: [1, 4], width: {int: [16, 256], log: true}}

A parameter is named by its path in the experiment, ``methods.<name>.params.<key>`` or
``methods.<name>.train.<key>``, which must exist once the experiment is resolved. ``when``
makes a parameter exist only while another takes one of the values given. A layer list is
sampled as its number of layers (``<path>.layers``) and the width of each (``<path>.width_<i>``).
The objective's direction comes from the task (:meth:`quanta.tasks.base.Task.goal`) unless given;
``inference_time`` (seconds per event of predicting the validation split, minimised) may be one
of several objectives. Every mistake is a one-line :class:`UserError` naming ``search.<key>``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from quanta.errors import UserError, closest, shown

SAMPLERS = ("grid", "random", "tpe", "gp")
PRUNERS = ("none", "median", "successive_halving")
KEYS = ("sampler", "trials", "objective", "pruner", "methods", "space")
KINDS = ("float", "int", "choice", "layers")
#: the objective measured by timing, not by the task: seconds per event of predicting the valid split
INFERENCE_TIME = "inference_time"
#: the most points a grid search may enumerate (Optuna's grid sampler lists every one)
MAX_GRID = 100_000
DIRECTIONS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
SECTIONS = ("params", "train")


@dataclass(frozen=True)
class Objective:
    """One objective: a validation metric of the last tuned method and its direction."""

    metric: str
    direction: str  # "maximize" or "minimize"

    def record(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction}


@dataclass
class Parameter:
    """One declared parameter of the space, at ``path`` in the experiment."""

    path: str
    kind: str  # float | int | choice | layers
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    grid: list[Any] | None = None
    choices: list[Any] | None = None
    width: Parameter | None = None  # a layer list's width of each layer
    when: dict[str, list[Any]] = field(default_factory=dict)  # path -> the values it exists for
    declaration: dict[str, Any] = field(default_factory=dict)

    def suggest(self, trial, name: str) -> Any:
        """The value of this parameter in an Optuna trial, under the parameter name ``name``."""
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step or 1)
        if self.kind == "choice":
            return trial.suggest_categorical(name, self.choices)
        layers = trial.suggest_int(f"{name}.layers", self.low, self.high)
        return [self.width.suggest(trial, f"{name}.width_{i}") for i in range(layers)]

    def grid_values(self) -> dict[str, list[Any]]:
        """Optuna's grid of this parameter: ``{parameter name: values}`` (None: not finite)."""
        if self.kind == "float":
            if self.grid is None:
                raise UserError(f"search.space.{self.path}: the grid sampler needs finite values; "
                                "give a float its grid: [values], or use choice or int")
            return {self.path: list(self.grid)}
        if self.kind == "int":
            return {self.path: list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))}
        if self.kind == "choice":
            return {self.path: list(self.choices)}
        widths = self.width.grid_values()[self.width.path]
        values = {f"{self.path}.layers": list(range(int(self.low), int(self.high) + 1))}
        values.update({f"{self.path}.width_{i}": widths for i in range(int(self.high))})
        return values


@dataclass
class Search:
    """The validated ``search:`` block."""

    sampler: str
    trials: int
    objectives: list[Objective]
    pruner: str
    methods: list[str]  # in the experiment's order; the objective is the last one's metric
    parameters: list[Parameter]  # in sampling order: a parameter after those its `when` names

    @property
    def method(self) -> str:
        """The method whose validation metrics are the objectives."""
        return self.methods[-1]

    def suggest(self, trial) -> dict[str, Any]:
        """``{path: value}`` of one trial: every parameter whose conditions hold."""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            if all(values.get(path, _ABSENT) in allowed for path, allowed in parameter.when.items()):
                values[parameter.path] = parameter.suggest(trial, parameter.path)
        return values

    def values_of(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{path: value}`` of a finished trial's Optuna parameters (a layer list reassembled)."""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            if parameter.kind == "layers":
                layers = params.get(f"{parameter.path}.layers")
                if layers is not None:
                    values[parameter.path] = [params[f"{parameter.path}.width_{i}"]
                                              for i in range(layers)]
            elif parameter.path in params:
                values[parameter.path] = params[parameter.path]
        return values

    def grid(self) -> dict[str, list[Any]]:
        """The grid sampler's search space; refused in one line when it is not finite or too big."""
        space: dict[str, list[Any]] = {}
        for parameter in self.parameters:
            space.update(parameter.grid_values())
        points = math.prod(len(v) for v in space.values())
        if points > MAX_GRID:
            raise UserError(f"search.space: the grid has {points:,} points, more than {MAX_GRID:,}; "
                            "give fewer values, or use sampler random, tpe or gp")
        return space

    def record(self) -> dict[str, Any]:
        """The block as resolved, for search.json."""
        return {"sampler": self.sampler, "trials": self.trials,
                "objective": [o.record() for o in self.objectives], "pruner": self.pruner,
                "methods": list(self.methods),
                "space": {p.path: p.declaration for p in self.parameters}}

    def fingerprint(self) -> dict[str, Any]:
        """What a study must keep across restarts: the objectives, the methods and the space."""
        record = self.record()
        return {key: record[key] for key in ("objective", "methods", "space")}


_ABSENT = object()


def read_search(raw_search: Any, resolved: dict[str, Any], task, sampler: str | None = None,
                trials: int | None = None) -> Search:
    """The validated search block of an experiment.

    Args:
        raw_search: the experiment's ``search:`` mapping, as written.
        resolved: the resolved experiment (``config.model_dump()``): every path must exist there.
        task: the experiment's task (its :meth:`goal` gives an objective's default direction).
        sampler, trials: the command line's overrides of ``search.sampler`` and ``search.trials``.
    """
    if not isinstance(raw_search, dict) or not raw_search:
        raise UserError("search: the experiment has no search: block; add one with a space: of "
                        "parameters (see examples/tune_mlp.yaml)")
    unknown = [key for key in raw_search if key not in KEYS]
    if unknown:
        guess = closest(str(unknown[0]), KEYS)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"search.{unknown[0]}: unknown key{hint} allowed: {', '.join(KEYS)}")
    sampler = _one_of(sampler or raw_search.get("sampler", "tpe"), SAMPLERS, "search.sampler")
    trials = raw_search.get("trials", 20) if trials is None else trials
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise UserError(f"search.trials: expected an integer >= 1, received {shown(trials)}")
    names = [entry["name"] for entry in resolved["methods"]]
    parameters = _parameters(raw_search.get("space"), resolved, names)
    methods = _methods(raw_search.get("methods"), parameters, names)
    objectives = _objectives(raw_search.get("objective"), task)
    several = len(objectives) > 1
    pruner = raw_search.get("pruner", "none" if several else "median")
    pruner = _one_of(pruner, PRUNERS, "search.pruner")
    if several and pruner != "none":
        raise UserError(f"search.pruner: '{pruner}' prunes one objective; a search of several "
                        "objectives (a Pareto front) needs pruner: none")
    search = Search(sampler, trials, objectives, pruner, methods, parameters)
    if sampler == "grid":  # a grid is searched once: no more trials than its points
        search.trials = min(trials, math.prod(len(v) for v in search.grid().values()))
    return search


def _one_of(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        guess = closest(str(value), allowed)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"{where}: expected one of {', '.join(allowed)}, received {shown(value)}{hint}")
    return value


def _objectives(raw: Any, task) -> list[Objective]:
    if raw is None:
        raw = task.monitor
    entries = raw if isinstance(raw, list) else [raw]
    if not entries:
        raise UserError("search.objective: expected a metric or a list of metrics, received []")
    objectives = []
    for index, entry in enumerate(entries):
        where = "search.objective" + (f"[{index}]" if isinstance(raw, list) else "")
        if isinstance(entry, str):
            metric, direction = entry, None
        elif isinstance(entry, dict) and set(entry) <= {"metric", "direction"} and "metric" in entry:
            metric, direction = entry["metric"], entry.get("direction")
        else:
            raise UserError(f"{where}: expected a metric name or {{metric: NAME, direction: "
                            f"maximize|minimize}}, received {shown(entry)}")
        if not isinstance(metric, str) or not metric:
            raise UserError(f"{where}.metric: expected a metric name, received {shown(metric)}")
        if direction is None:
            goal = "min" if metric == INFERENCE_TIME else task.goal(metric)
            if goal not in DIRECTIONS:
                raise UserError(f"{where}: metric '{metric}' is best at {goal}, not at a maximum or "
                                "a minimum; give another metric or its direction")
            direction = DIRECTIONS[goal]
        elif direction not in DIRECTIONS:
            raise UserError(f"{where}.direction: expected maximize or minimize, received "
                            f"{shown(direction)}")
        objectives.append(Objective(metric, DIRECTIONS[direction]))
    metrics = [o.metric for o in objectives]
    if len(set(metrics)) < len(metrics):
        raise UserError(f"search.objective: a metric is given twice: {', '.join(metrics)}")
    if metrics == [INFERENCE_TIME]:
        raise UserError(f"search.objective: '{INFERENCE_TIME}' alone would pick the fastest "
                        "method whatever it learned; give it beside a validation metric")
    return objectives


def _methods(raw: Any, parameters: list[Parameter], names: list[str]) -> list[str]:
    named = {_method_of(p.path, names) for p in parameters}
    if raw is None:
        chosen = named
    else:
        listed = raw if isinstance(raw, list) else [raw]
        for name in listed:
            if name not in names:
                guess = closest(str(name), names)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise UserError(f"search.methods: unknown method {shown(name)}{hint} the "
                                f"experiment's methods: {', '.join(names)}")
        missing = sorted(named - set(listed))
        if missing:
            raise UserError(f"search.methods: the space tunes {', '.join(missing)}, which is not "
                            f"listed; list every method a trial fits")
        chosen = set(listed)
    return [name for name in names if name in chosen]


def _method_of(path: str, names: list[str]) -> str:
    """The method a path names (the longest name that fits, as names may hold dots)."""
    fitting = [n for n in names if path.startswith(f"methods.{n}.")]
    return max(fitting, key=len)


def allowed_paths(resolved: dict[str, Any]) -> list[str]:
    """Every path a parameter may have: the keys of each method's params and train options."""
    paths = []
    for entry in resolved["methods"]:
        for section in SECTIONS:
            for key in entry.get(section) or {}:
                paths.append(f"methods.{entry['name']}.{section}.{key}")
    return paths


def _location(path: str, resolved: dict[str, Any], names: list[str]) -> tuple[str, str, list[str]]:
    """(method, section, keys) of a path that exists in the resolved experiment, else an error."""
    allowed = allowed_paths(resolved)
    fitting = [n for n in names if path.startswith(f"methods.{n}.")]
    if fitting:
        name = max(fitting, key=len)
        section, _, rest = path[len(f"methods.{name}."):].partition(".")
        keys = rest.split(".") if rest else []
        entry = next(e for e in resolved["methods"] if e["name"] == name)
        value: Any = entry.get(section) if section in SECTIONS else _ABSENT
        for key in keys:
            value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
        if keys and value is not _ABSENT:
            return name, section, keys
    guess = closest(path, allowed)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise UserError(f"search.space: unknown path {shown(path)}{hint} a parameter is "
                    "methods.<name>.params.<key> or methods.<name>.train.<key> of the resolved "
                    "experiment (see `quanta models`, `quanta methods`)")


def _parameters(raw: Any, resolved: dict[str, Any], names: list[str]) -> list[Parameter]:
    if not isinstance(raw, dict) or not raw:
        raise UserError("search.space: expected a mapping of parameter paths to declarations, e.g. "
                        "methods.mlp.train.lr: {float: [1.0e-4, 1.0e-1], log: true}")
    parameters = []
    for path, declaration in raw.items():
        path = str(path)
        _location(path, resolved, names)
        parameter = _parameter(path, declaration, f"search.space.{path}")
        if parameter.kind == "layers":
            current = _value_at(resolved, path, names)
            if not isinstance(current, (list, tuple)):
                raise UserError(f"search.space.{path}: layers: tunes a list of widths, and "
                                f"{path} is {shown(current)}; use float, int or choice")
        parameters.append(parameter)
    by_path = {p.path: p for p in parameters}
    for parameter in parameters:
        for other, values in parameter.when.items():
            where = f"search.space.{parameter.path}.when"
            if other == parameter.path or other not in by_path:
                guess = closest(other, [p for p in by_path if p != parameter.path])
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise UserError(f"{where}: {shown(other)} is not another parameter of the "
                                f"space{hint}")
            condition = by_path[other]
            if condition.kind not in ("choice", "int"):
                raise UserError(f"{where}: {other} is a {condition.kind}; a condition names a "
                                "choice or an int parameter")
            possible = condition.choices if condition.kind == "choice" else \
                list(range(int(condition.low), int(condition.high) + 1))
            outside = [v for v in values if v not in possible]
            if outside:
                raise UserError(f"{where}: {other} never takes {shown(outside[0])}; it takes "
                                f"{shown(possible)}")
    return _ordered(parameters)


def _ordered(parameters: list[Parameter]) -> list[Parameter]:
    """The parameters with each one after those its condition names; a cycle is refused."""
    done: list[Parameter] = []
    waiting = list(parameters)
    while waiting:
        ready = [p for p in waiting if all(o in {d.path for d in done} for o in p.when)]
        if not ready:
            raise UserError(f"search.space.{waiting[0].path}.when: the conditions form a cycle "
                            f"({', '.join(p.path for p in waiting)})")
        done += ready
        waiting = [p for p in waiting if p not in ready]
    return done


def _number(value: Any, where: str, integer: bool = False) -> float | int:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise UserError(f"{where}: expected {'an integer' if integer else 'a number'}, received "
                        f"{shown(value)}")
    return value


def _parameter(path: str, declaration: Any, where: str) -> Parameter:
    if not isinstance(declaration, dict):
        raise UserError(f"{where}: expected a declaration such as {{float: [LOW, HIGH]}}, "
                        f"{{int: [LOW, HIGH]}}, {{choice: [A, B]}} or {{layers: [MIN, MAX], "
                        f"width: {{int: [LOW, HIGH]}}}}, received {shown(declaration)}")
    kinds = [k for k in KINDS if k in declaration]
    if len(kinds) != 1:
        raise UserError(f"{where}: give exactly one of {', '.join(KINDS)}; received keys "
                        f"{', '.join(map(str, declaration)) or 'none'}")
    kind = kinds[0]
    allowed = {"float": ("float", "log", "step", "grid", "when"), "int": ("int", "log", "step", "when"),
               "choice": ("choice", "when"), "layers": ("layers", "width", "when")}[kind]
    extra = [k for k in declaration if k not in allowed]
    if extra:
        raise UserError(f"{where}.{extra[0]}: not a key of a {kind} parameter; allowed: "
                        f"{', '.join(allowed)}")
    parameter = Parameter(path, kind, declaration=copy.deepcopy(declaration),
                          when=_when(declaration.get("when"), f"{where}.when"))
    if kind == "choice":
        choices = declaration["choice"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}.choice: expected a non-empty list of values, received "
                            f"{shown(choices)}")
        for value in choices:
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise UserError(f"{where}.choice: values must be numbers, strings, booleans or "
                                f"null, received {shown(value)}; tune a list of layer widths "
                                "with {layers: [MIN, MAX], width: {int: [LOW, HIGH]}}")
        if len(set(map(repr, choices))) < len(choices):
            raise UserError(f"{where}.choice: a value is given twice: {shown(choices)}")
        parameter.choices = list(choices)
        return parameter
    bounds = declaration[kind]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise UserError(f"{where}.{kind}: expected [LOW, HIGH], received {shown(bounds)}")
    integer = kind in ("int", "layers")
    low, high = (_number(b, f"{where}.{kind}", integer) for b in bounds)
    if low > high:
        raise UserError(f"{where}.{kind}: LOW must not exceed HIGH, received {shown(bounds)}")
    parameter.low, parameter.high = (low, high) if integer else (float(low), float(high))
    if kind == "layers":
        if low < 0:
            raise UserError(f"{where}.layers: the number of layers must be >= 0, received "
                            f"{shown(bounds)}")
        if "width" not in declaration:
            raise UserError(f"{where}.width: a layer list needs the width of each layer, e.g. "
                            "width: {int: [16, 256], log: true}")
        width = _parameter(f"{path}.width", declaration["width"], f"{where}.width")
        if width.kind not in ("int", "choice") or width.when:
            raise UserError(f"{where}.width: a width is {{int: [LOW, HIGH]}} or {{choice: [...]}} "
                            "without a condition")
        if width.kind == "int" and width.low < 1:
            raise UserError(f"{where}.width.int: a layer has at least 1 unit, received "
                            f"{shown(declaration['width']['int'])}")
        parameter.width = width
        return parameter
    log = declaration.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}.log: expected true or false, received {shown(log)}")
    if log and low <= 0:
        raise UserError(f"{where}.log: a log scale needs LOW > 0, received {shown(bounds)}")
    step = declaration.get("step")
    if step is not None:
        step = _number(step, f"{where}.step", integer)
        if step <= 0 or log:
            raise UserError(f"{where}.step: expected a number > 0 without log: true, received "
                            f"{shown(step)}")
    parameter.log, parameter.step = log, step
    if "grid" in declaration:
        grid = declaration["grid"]
        if not isinstance(grid, list) or not grid:
            raise UserError(f"{where}.grid: expected a non-empty list of numbers, received "
                            f"{shown(grid)}")
        for value in grid:
            if not low <= _number(value, f"{where}.grid") <= high:
                raise UserError(f"{where}.grid: {shown(value)} is outside [{low}, {high}]")
        parameter.grid = [float(v) for v in grid]
    return parameter


def _when(raw: Any, where: str) -> dict[str, list[Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{where}: expected {{OTHER.PATH: VALUE or [VALUES]}}, received {shown(raw)}")
    return {str(path): list(values) if isinstance(values, list) else [values]
            for path, values in raw.items()}


def _value_at(resolved: dict[str, Any], path: str, names: list[str]) -> Any:
    name, section, keys = _location(path, resolved, names)
    value: Any = next(e for e in resolved["methods"] if e["name"] == name)[section]
    for key in keys:
        value = value[key]
    return value


def applied(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw experiment with ``values`` (``{path: value}``) set and no search block."""
    experiment = copy.deepcopy(raw)
    experiment.pop("search", None)
    names = [str(entry.get("name")) for entry in experiment.get("methods") or []
             if isinstance(entry, dict)]
    for path, value in values.items():
        name = _method_of(path, names)
        section, _, rest = path[len(f"methods.{name}."):].partition(".")
        entry = next(e for e in experiment["methods"] if e.get("name") == name)
        target = entry.setdefault(section, {})
        if target is None:
            target = entry[section] = {}
        keys = rest.split(".")
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return experiment


__all__ = ["INFERENCE_TIME", "PRUNERS", "SAMPLERS", "Objective", "Parameter", "Search",
           "allowed_paths", "applied", "read_search"]
