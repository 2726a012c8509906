"""The experiment file: validated once, at the edge, into typed and resolved config.

Every check lives here: unknown keys (with the closest allowed key), wrong
types and ranges, unknown model/method/task/source names, parameters that a
model, method or source does not take. A message names the config path, what
was received and what is allowed, e.g.::

    methods[1].train.epochs: input should be greater than 0, received -3

The resolved config has every default filled in (training options, model,
method and source parameters) and is written back as the run's ``config.yaml``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quanta.errors import UserError, closest, shown

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NAME_LENGTH = 100  # experiment and method names become folder names (file systems allow 255 bytes)
FIGURES_FOLDER = "figures"  # the report's figure files in a run directory: no method's name
ARRAYS = "arrays"  # data.source of a run whose data was passed in from Python (quanta.fit)
MODULE = "module"  # model of a network passed in from Python as a torch.nn.Module (quanta.fit)


class DataConfig(BaseModel):
    """``data:`` — a registered source, its parameters (extra keys) and the split."""

    model_config = ConfigDict(extra="allow")
    source: str = "jets"
    split: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = (0.7, 0.15, 0.15)
    standardize: bool = True  # fit a standardisation of the inputs on the training split (networks)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MethodConfig(BaseModel):
    """One entry of ``methods:`` — a network (``model:``), a classical ``method:`` or an ``agent:``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_LENGTH)
    model: str | None = None
    method: str | None = None
    agent: str | None = None  # a reinforcement-learning agent (quanta.agents), on an environment
    params: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    # source parameters that differ for this method (e.g. {view: image}): the same samples and
    # split, another representation, so that a CNN on images and a BDT on features share one report
    data: dict[str, Any] = Field(default_factory=dict)
    # task parameters that differ for this method (e.g. {objective: gan} beside a WGAN-GP): the
    # same task, so its methods are evaluated alike and compared in one report
    task_params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> MethodConfig:
        if sum(kind is not None for kind in (self.model, self.method, self.agent)) != 1:
            raise ValueError("give exactly one of 'model' (a network), 'method' (a classical method) "
                             "or 'agent' (a reinforcement-learning agent)")
        return self

    @property
    def is_network(self) -> bool:
        return self.model is not None


class ImportanceConfig(BaseModel):
    """``importance:`` — how each method's variables are ranked (``quanta.evaluate.importance``).

    Each variable is shuffled ``repeats`` times among ``rows`` validation events and the drop of
    the task's validation metric measured; the trees' own importances cost nothing and are kept.
    """

    model_config = ConfigDict(extra="forbid")
    # shuffles per variable: the spread of their drops is the ranking's uncertainty; 0: no shuffling
    repeats: int = Field(default=3, ge=0, le=100)
    # validation events shuffled: 2,000 measure an AUC to about 0.005, at a few ms per prediction
    rows: int = Field(default=2000, ge=10)
    # more variables than this (a flattened image, a long curve) are not shuffled one by one
    max_features: int = Field(default=100, ge=1)


class ReportConfig(BaseModel):
    """``report:`` — how the report draws its figures (``quanta.report.style``)."""

    model_config = ConfigDict(extra="forbid")
    # default: quanta's look; atlas, cms, lhcb, root: an experiment's (mplhep, quanta[style])
    style: str = "default"  # checked by resolve (quanta.report.style.check_style)
    pdf: bool = False  # also write every figure as figures/<name>.pdf (PNGs are always written)


class ExperimentConfig(BaseModel):
    """A whole experiment: data, task, the methods to compare, shared training options."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="experiment", pattern=NAME_PATTERN, max_length=NAME_LENGTH)
    seed: int = 1
    repeat: int = Field(default=1, ge=1)  # trainings of every method, seeds from (seed, r) (quanta.repeats)
    task: str = "binary"
    task_params: dict[str, Any] = Field(default_factory=dict)  # parameters of the task (e.g. multi-task heads)
    data: DataConfig = Field(default_factory=DataConfig)
    train: dict[str, Any] = Field(default_factory=dict)  # defaults for every network method
    methods: list[MethodConfig] = Field(min_length=1)
    device: str = "auto"
    output: str = "runs"
    importance: ImportanceConfig = Field(default_factory=ImportanceConfig)  # the variable ranking
    report: ReportConfig = Field(default_factory=ReportConfig)  # the figures' style
    # the hyperparameter search of `quanta tune` (checked by quanta.tune.space; `quanta run` trains
    # the file's own values and ignores it)
    search: dict[str, Any] = Field(default_factory=dict)
    # where runs also log (TensorBoard, MLflow; quanta.tracking)
    tracking: dict[str, Any] = Field(default_factory=dict)

    @field_validator("methods")
    @classmethod
    def _unique_names(cls, methods: list[MethodConfig]) -> list[MethodConfig]:
        names = [m.name for m in methods]
        if FIGURES_FOLDER in names:
            raise ValueError(f"method name '{FIGURES_FOLDER}' is the run directory's folder of "
                             "report figures; choose another name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"method names must be unique; repeated: {', '.join(duplicates)}")
        return methods


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    if len(loc) == 1:
        return list(ExperimentConfig.model_fields)
    if loc[0] == "methods":
        return list(MethodConfig.model_fields)
    if loc[0] == "importance":
        return list(ImportanceConfig.model_fields)
    if loc[0] == "report":
        return list(ReportConfig.model_fields)
    return []


def first_error(error: ValidationError, raw: Any, prefix: tuple[Any, ...] = ()) -> UserError:
    """A one-line UserError from pydantic's first complaint, its field path after ``prefix``."""
    first = error.errors()[0]
    loc = prefix + tuple(p for p in first["loc"] if p not in ("function-after",))
    if first["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        key = loc[-1]
        allowed = _allowed_keys(loc) if not prefix else _train_keys()
        guess = closest(str(key), allowed)
        hint = f"; did you mean '{guess}'?" if guess else ""
        return UserError(f"{_path(loc)}: unknown key '{key}'{hint} allowed: {', '.join(allowed)}")
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    received = first.get("input")
    echo = "" if isinstance(received, dict) else f", received {shown(received)}"
    return UserError(f"{_path(loc) or 'experiment'}: {message[0].lower() + message[1:]}{echo}")


def _train_keys() -> list[str]:
    from quanta.train.config import TrainConfig

    return TrainConfig.names()


def _filled(factory: Any, params: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``params`` with every other keyword default of ``factory`` filled in."""
    from quanta.registry import parameters

    out = {}
    for name, parameter in parameters(factory).items():
        if name in skip:
            continue
        if name in params:
            out[name] = params[name]
        elif parameter.default is not inspect.Parameter.empty:
            out[name] = parameter.default
    return out


def _plain(value: Any) -> Any:
    """YAML-friendly copy: tuples become lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def resolve(raw: dict[str, Any]) -> ExperimentConfig:
    """Validate a raw experiment dict; return it with every default filled in."""
    from quanta.agents import AGENTS
    from quanta.data import SOURCES
    from quanta.methods import METHODS
    from quanta.models import DATA_ARGUMENTS, MODELS
    from quanta.registry import validate_params
    from quanta.report.style import check_style
    from quanta.tasks import TASKS
    from quanta.train.config import TrainConfig

    if not isinstance(raw, dict):
        raise UserError(f"experiment: expected a mapping of keys (name, data, task, methods, ...), received {type(raw).__name__}")
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        raise first_error(error, raw) from None
    if config.task not in TASKS:
        raise _named("task", config.task, TASKS)
    check_style(config.report.style, "report.style")  # before any work, not after training
    task_params = validate_params(TASKS.get(config.task), config.task_params, "task_params")
    if "seed" in inspect.signature(TASKS.get(config.task)).parameters and "seed" not in task_params:
        task_params["seed"] = config.seed  # e.g. which samples keep their labels (semi_supervised)
    task_params = _plain(_filled(TASKS.get(config.task), task_params))
    resolved_data = {"source": config.data.source, "split": list(config.data.split),
                     "standardize": config.data.standardize}
    data_params: dict[str, Any] = {}
    if config.data.source != ARRAYS:
        if config.data.source not in SOURCES:
            raise _named("data.source", config.data.source, SOURCES)
        source = SOURCES.get(config.data.source)
        data_params = validate_params(source, config.data.params, "data")
        if "seed" in inspect.signature(source).parameters and "seed" not in data_params:
            data_params["seed"] = config.seed
        resolved_data.update(_plain(_filled(source, data_params)))
    methods = []
    for index, entry in enumerate(config.methods):
        where = f"methods[{index}]"
        if entry.data:
            if config.data.source == ARRAYS:
                raise UserError(f"{where}.data: per-method data applies to a registered source, not to arrays")
            source = SOURCES.get(config.data.source)
            view = validate_params(source, {**data_params, **entry.data}, f"{where}.data")
            entry.data = _plain({key: view[key] for key in entry.data})
        if entry.task_params:
            validate_params(TASKS.get(config.task), {**config.task_params, **entry.task_params},
                            f"{where}.task_params")
            entry.task_params = _plain(entry.task_params)
        if entry.is_network:
            if entry.model == MODULE:
                params = {}
            elif entry.model not in MODELS:
                raise _named(f"{where}.model", entry.model, MODELS)
            else:
                cls = MODELS.get(entry.model)
                params = validate_params(cls, entry.params, f"{where}.params", supplied=DATA_ARGUMENTS)
                params = _filled(cls, params, skip=DATA_ARGUMENTS)
            merged = {"seed": config.seed, "device": config.device, **config.train, **entry.train}
            try:
                train = TrainConfig(**merged).to_dict()
            except ValidationError as error:
                prefix = (f"methods[{index}]", "train") if any(k in entry.train for k in _keys(error)) else ("train",)
                raise first_error(error, merged, prefix) from None
            _check_device(train["device"], f"{where}.train.device")
            methods.append({"name": entry.name, "model": entry.model, "params": _plain(params), "train": train,
                            "data": entry.data, "task_params": entry.task_params})
        elif entry.agent is not None:
            if entry.agent not in AGENTS:
                raise _named(f"{where}.agent", entry.agent, AGENTS)
            if entry.train:
                raise UserError(f"{where}.train: training options apply to networks ('model:'), not "
                                f"to agent '{entry.agent}'; set its params (steps, ...) instead")
            cls = AGENTS.get(entry.agent)
            params = validate_params(cls, entry.params, f"{where}.params")
            if "seed" not in params:
                params["seed"] = config.seed
            methods.append({"name": entry.name, "agent": entry.agent, "params": _plain(_filled(cls, params)),
                            "data": entry.data, "task_params": entry.task_params})
        else:
            if entry.method not in METHODS:
                raise _named(f"{where}.method", entry.method, METHODS)
            if entry.train:
                raise UserError(f"{where}.train: training options apply to networks ('model:'), not to method '{entry.method}'; set its params instead")
            cls = METHODS.get(entry.method)
            params = validate_params(cls, entry.params, f"{where}.params")
            if "seed" in inspect.signature(cls).parameters and "seed" not in params:
                params["seed"] = config.seed
            cls.check_entry(params, f"{where}.params", {"name": entry.name, "data": entry.data}, methods)
            methods.append({"name": entry.name, "method": entry.method, "params": _plain(_filled(cls, params)),
                            "data": entry.data, "task_params": entry.task_params})
    from quanta.tracking import resolved as resolved_tracking

    tracking = resolved_tracking(config.tracking, [m.name for m in config.methods])  # installed?
    resolved = config.model_dump()
    resolved.update(data=resolved_data, methods=methods, train=_plain(config.train), task_params=task_params,
                    tracking=tracking)
    return ExperimentConfig.model_validate(resolved)


def _check_device(name: str, where: str) -> None:
    """Fail before any data is generated if the device cannot be used."""
    from quanta.train.device import resolve_device

    try:
        resolve_device(name)
    except UserError as error:
        raise UserError(f"{where}: {str(error).removeprefix('device: ')}") from None


def _keys(error: ValidationError) -> list[str]:
    return [str(e["loc"][0]) for e in error.errors() if e["loc"]]


def _named(where: str, name: str, registry) -> UserError:
    guess = closest(name, registry.names())
    hint = f"; did you mean '{guess}'?" if guess else ""
    return UserError(f"{where}: unknown {registry.kind} '{name}'{hint} allowed: "
                     f"{', '.join(registry.names())} (list them with `{registry.listing}`)")


def read_experiment(path: str | Path) -> dict[str, Any]:
    """The raw mapping of an experiment YAML file (safe loading only)."""
    return read_mapping(path)


def read_mapping(path: str | Path, what: str = "experiment",
                 keys: str = "name, data, task, methods, ...") -> dict[str, Any]:
    """The raw mapping of a YAML file of ``what`` (safe loading, aliases bounded, one-line errors).

    ``keys`` is what the message of a file that is not a mapping says it should hold.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: {what} file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; expected an {what} YAML file")
    try:
        raw = load_yaml(path.read_text(), path)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise UserError(f"{path}: malformed YAML{where}: {error.problem or 'not valid YAML'}") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: malformed YAML: {error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file; expected an {what} YAML file") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of keys ({keys}) at the top level")
    return raw


ALIAS_VALUES = 10_000
"""How many values YAML aliases (``*name``) may add to a document beyond those written out."""


def load_yaml(text: str, path: str | Path) -> Any:
    """The data of a YAML document (safe loading only), refusing alias bombs.

    Aliases are expanded by reference, but every later step (validation,
    messages, ``config.yaml``) walks the expanded tree: a "billion laughs"
    document of a few lines becomes gigabytes. A document whose aliases add
    more than :data:`ALIAS_VALUES` values, refers to itself, or nests too
    deeply to read is refused with a one-line :class:`UserError` naming ``path``.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise UserError(f"{path}: YAML nested too deeply to read") from None
        if node is None:
            return None
        _check_aliases(node, path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_aliases(root: yaml.Node, path: str | Path) -> None:
    written: set[int] = set()  # distinct nodes: what the text spells out
    sizes: dict[int, int] = {}  # id(node) -> values in its expanded tree
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            line = node.start_mark.line + 1
            raise UserError(f"{path}: a YAML alias refers to the anchor that contains it (line {line}); "
                            "an experiment cannot contain itself")
        written.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, path)
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            open_nodes.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else \
                [item for pair in node.value for item in pair]
            for child in children:
                total += size(child)
                if total - len(written) > ALIAS_VALUES:
                    line = node.start_mark.line + 1
                    raise UserError(
                        f"{path}: YAML aliases expand to more than {ALIAS_VALUES} values beyond those "
                        f"written (from line {line}); write the values out instead of nesting aliases")
            open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


def _check_keys(node: yaml.MappingNode, path: str | Path) -> None:
    """A key written twice in one mapping: YAML keeps the last silently, which is never what was meant."""
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value != "<<":
            line = key.start_mark.line + 1
            if key.value in seen:
                raise UserError(f"{path}: key {shown(key.value)} is given twice in one mapping "
                                f"(lines {seen[key.value]} and {line}); keep one")
            seen[key.value] = line


def default_experiment_path() -> Path:
    """The built-in default experiment (top-quark tagging: boosted trees vs MLP)."""
    return Path(__file__).parent / "experiments" / "top_tagging.yaml"


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(_plain(config.model_dump()), sort_keys=False, default_flow_style=None)
