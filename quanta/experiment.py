"""Running an experiment: one data set, one split, every method, one run directory.

    runs/<experiment>/<timestamp>/
      config.yaml  environment.json  metrics.json  report.html
      <method>/    history.jsonl, checkpoint / model files, predictions.npz, metrics.json

Every method sees the same split (the TMVA habit: several methods, one data
set, one ROC plot). The test split is scored once, at the end. A run never
overwrites another; ``resume`` continues an interrupted run in place: finished
methods are kept, an interrupted network continues from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.config import (
    ARRAYS,
    MODULE,
    ExperimentConfig,
    default_experiment_path,
    read_experiment,
    resolve,
    to_yaml,
)
from quanta.data.dataset import Dataset
from quanta.data.split import SPLITS, split
from quanta.data.stream.stream import Stream, StreamPart
from quanta.errors import UserError
from quanta.rundir import create_run_directory, environment, require_run_directory

PREDICTIONS = "predictions.npz"
DATA_RECORD = "data.json"


@dataclass
class MethodResult:
    """What one method of an experiment produced."""

    name: str
    estimator: Any  # a quanta.train.network.Network or a quanta.methods.base.Method
    directory: Path
    metrics: dict[str, dict[str, float]]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ExperimentRun:
    """A finished experiment: its directory, resolved config and per-method results."""

    directory: Path
    config: ExperimentConfig
    results: dict[str, MethodResult]

    @property
    def metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{method: {split: {metric: value}}}``."""
        return {name: result.metrics for name, result in self.results.items()}

    def report(self) -> Path:
        """(Re)write ``report.html`` in the run directory and return its path."""
        from quanta.report import write_report

        return write_report(self.directory)


def load_config(experiment: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """The raw config of a path, a dict, or the built-in default (None)."""
    if experiment is None:
        return read_experiment(default_experiment_path())
    if isinstance(experiment, dict):
        return dict(experiment)
    return read_experiment(experiment)


def run_experiment(experiment: str | Path | dict[str, Any] | None = None, *, out: str | Path | None = None,
                   seed: int | None = None, device: str | None = None, resume: str | Path | None = None,
                   data: Dataset | None = None, module: Any = None, callbacks: list | None = None,
                   verbose: bool = True, report: bool = True) -> ExperimentRun:
    """Run every method of an experiment on one split and write one run directory.

    Args:
        experiment: a YAML path, a dict, or None for the built-in default experiment.
        out: parent folder of run directories (overrides the config's ``output``).
        seed: overrides the config's ``seed`` (data, split, initialisation).
        device: overrides the config's ``device`` (auto, cpu, cuda).
        resume: an earlier run directory to continue instead of starting a new one.
        data: a data set to use instead of the config's source (``quanta.fit``).
        module: the ``torch.nn.Module`` of a method whose model is ``module`` (``quanta.fit``).
        callbacks: extra training callbacks for every network method.
        verbose: print progress and the metrics table.
        report: write ``report.html`` at the end (``quanta.fit`` leaves it to ``Run.report()``).
    """
    say = print if verbose else _silent
    if resume is not None:
        directory = require_run_directory(resume)
        raw = read_experiment(directory / "config.yaml")
        if raw.get("data", {}).get("source") == ARRAYS:
            raise UserError(f"{directory}: this run was trained on in-memory arrays; resume it from Python with the same data")
        config = resolve(raw)
    else:
        raw = load_config(experiment)
        overrides = {"seed": seed, "device": device, "output": None if out is None else str(out)}
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if data is not None:
            given = raw.get("data", {})
            raw["data"] = {"split": given.get("split", [0.7, 0.15, 0.15]),
                           "standardize": given.get("standardize", True), "source": ARRAYS}
        config = resolve(raw)
        directory = None

    from quanta.tasks import TASKS

    task = TASKS.create(config.task, where="task_params", **config.task_params)
    dataset = data if data is not None else _load_source(config, {}, say)
    dataset = dataset if isinstance(dataset, Stream) else _checked(dataset, task)
    parts = _split(dataset, task, config)
    say(f"data: {dataset.name}, {sum(len(p) for p in parts.values()):,} samples, inputs {dataset.input_shape}"
        + (" (streamed from disk)" if isinstance(dataset, Stream) else "") + "; split "
        + ", ".join(f"{name} {len(part):,}" for name, part in parts.items()))
    views = {_view_key(e.data): parts for e in config.methods if not e.data}
    for index, entry in enumerate(config.methods):
        if entry.data and _view_key(entry.data) not in views:
            other = _load_source(config, entry.data, say)
            if isinstance(other, Stream) or isinstance(dataset, Stream):
                raise UserError(f"methods[{index}].data: other views of streamed data are not supported; "
                                "give each view its own experiment or set data.streaming: never")
            other = _checked(other, task)
            if len(other) != len(dataset) or not np.array_equal(other.y, dataset.y):
                raise UserError(f"methods[{index}].data: {entry.data} changes the samples, not only their "
                                "representation; methods of one experiment must see the same events")
            views[_view_key(entry.data)] = split(other, config.data.split, seed=config.seed)

    if directory is None:
        directory = create_run_directory(Path(config.output) / config.name)
        (directory / "config.yaml").write_text(to_yaml(config))
        (directory / DATA_RECORD).write_text(json.dumps(data_record(dataset, parts), indent=1))
        (directory / "environment.json").write_text(
            json.dumps(environment(config.seed, config.device), indent=1))
    say(f"run directory: {directory}")

    results: dict[str, MethodResult] = {}
    for entry in config.methods:
        results[entry.name] = _run_method(entry, task, views[_view_key(entry.data)], config, directory,
                                          callbacks or [], resume is not None, say, module)
    (directory / "metrics.json").write_text(json.dumps(
        {name: {**r.metrics, "seconds": r.seconds} for name, r in results.items()}, indent=1))
    run = ExperimentRun(directory, config, results)
    say(_summary(run, task))
    if report:
        say(f"report: {run.report()}")
    return run


def _silent(*args: Any, **kwargs: Any) -> None:
    pass


def _view_key(overrides: dict[str, Any]) -> str:
    return json.dumps(overrides, sort_keys=True)


def _load_source(config: ExperimentConfig, overrides: dict[str, Any], say) -> Dataset:
    from quanta.data import SOURCES

    params = {**config.data.params, **overrides}
    say(f"data: loading source '{config.data.source}' {params}")
    return SOURCES.create(config.data.source, where="data", **params)


def _split(dataset: Dataset | Stream, task, config: ExperimentConfig) -> dict[str, Any]:
    """Train, valid and test parts, their targets checked against the task."""
    if isinstance(dataset, Stream):
        parts = dataset.split(config.data.split, seed=config.seed)
        if len(parts["train"]) == 0:
            raise UserError(f"data.split: the training part is empty ({config.data.split})")
        for part in parts.values():
            part.check_targets(task.check_targets)
        return parts
    return split(dataset, config.data.split, seed=config.seed)


def data_record(dataset: Dataset | Stream, parts: dict[str, Any]) -> dict[str, Any]:
    """What the run's data was: source, resolved feature names, classes, split sizes, reading details."""
    return {"name": dataset.name, "feature_names": dataset.feature_names, "classes": dataset.classes,
            "input_shape": list(dataset.input_shape), "split": {name: len(part) for name, part in parts.items()},
            "streamed": isinstance(dataset, Stream),
            "info": {k: v for k, v in dataset.info.items() if isinstance(v, (str, int, float, bool, list, dict))}}


def _checked(data: Dataset, task) -> Dataset:
    """Finite inputs and targets that fit the task, or a one-line error."""
    data.check_finite()
    if "y" not in data:
        raise UserError(f"{data.name}: no targets 'y' to learn from")
    return data.with_arrays(y=task.check_targets(np.asarray(data.y), f"{data.name} targets"))


def _run_method(entry, task, parts: dict[str, Dataset], config: ExperimentConfig, directory: Path,
                callbacks: list, resuming: bool, say, module: Any = None) -> MethodResult:
    method_dir = directory / entry.name
    if resuming and (method_dir / "metrics.json").exists():
        say(f"{entry.name}: finished in the earlier run, kept")
        return _reload(entry, task, method_dir)
    method_dir.mkdir(exist_ok=True)
    train, valid = parts["train"], parts["valid"]
    start = time.perf_counter()
    if entry.is_network:
        estimator = _network(entry, task, train, config.data.standardize, module)
        resume = resuming and (method_dir / "checkpoint.safetensors").exists()
        say(f"{entry.name}: training {entry.model} ({_count(estimator.model)} parameters)"
            + (" — resuming from its checkpoint" if resume else ""))
        estimator.fit(train, valid, directory=method_dir, callbacks=callbacks, resume=resume, label=entry.name)
        estimator.save(method_dir)
    else:
        from quanta.methods import METHODS
        from quanta.train.network import write_history

        say(f"{entry.name}: fitting {entry.method}")
        estimator = METHODS.create(entry.method, where=f"{entry.name}.params", **entry.params)
        estimator.fit(train, valid, task)
        estimator.save(method_dir)
        write_history(method_dir / "history.jsonl", estimator.history)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = _score(estimator, task, parts, method_dir)
    seconds = {"fit": fit_seconds, "predict": time.perf_counter() - start}
    (method_dir / "metrics.json").write_text(json.dumps({**metrics, "seconds": seconds}, indent=1))
    return MethodResult(entry.name, estimator, method_dir, metrics, list(estimator.history), seconds)


def _network(entry, task, train: Dataset, standardize: bool, module: Any = None):
    from quanta.train.config import TrainConfig
    from quanta.train.network import Network, build_model

    if entry.model == MODULE:
        if module is None:
            raise UserError(f"{entry.name}: model 'module' is a torch.nn.Module passed from Python (quanta.fit)")
        return Network(module, task, TrainConfig(**entry.train), standardize=standardize, spec=None)
    import torch

    out_features = task.out_features(train.y)
    torch.manual_seed(entry.train["seed"])  # initial weights depend on the seed alone
    shapes = ({name: list(shape) for name, shape in train.shapes.items()} if isinstance(train, StreamPart)
              else {name: list(array.shape[1:]) for name, array in train.arrays.items()})
    model = build_model(entry.model, entry.params, shapes, out_features, where=f"{entry.name}.params")
    spec = {"model": entry.model, "params": entry.params, "shapes": shapes,
            "out_features": out_features}
    return Network(model, task, TrainConfig(**entry.train), standardize=standardize, spec=spec)


def _count(model) -> str:
    return f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,}"


def _score(estimator, task, parts: dict[str, Dataset], method_dir: Path) -> dict[str, dict[str, float]]:
    """Predict every split, save the predictions, return the metrics per split."""
    from quanta.evaluate import metrics_for

    arrays: dict[str, np.ndarray] = {}
    metrics: dict[str, dict[str, float]] = {}
    for name in SPLITS:
        part = parts[name]
        if len(part) == 0:
            continue
        score = estimator.predict(part)
        metrics[name] = {}
        known = part.targets if isinstance(part, StreamPart) else part.arrays
        for head, (task_name, target, head_score) in task.evaluation_heads(known, score).items():
            y, scored, weight = per_element(known, target, head_score)
            prefix = f"{head}_" if head else ""
            arrays[f"{name}_{prefix}y"], arrays[f"{name}_{prefix}score"] = y, scored
            if weight is not None:
                arrays[f"{name}_{prefix}weight"] = weight
            metrics[name].update({prefix + k: v for k, v in metrics_for(task_name, y, scored, weight).items()})
    np.savez(method_dir / PREDICTIONS, **arrays)
    return metrics


def per_element(arrays: dict[str, np.ndarray], y: np.ndarray,
                score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Targets, scores and weights as evaluation wants them: one row per scored element.

    Per-sample targets pass through. Per-element targets (sequence steps, graph
    edges) keep their unmasked elements, each with its sample's weight;
    per-element regression targets such as images become one row per sample.
    """
    weight = arrays.get("weight")
    if "target_mask" in arrays and arrays["target_mask"].shape == y.shape[:arrays["target_mask"].ndim]:
        keep = arrays["target_mask"].astype(bool)
        if weight is not None:
            weight = np.broadcast_to(weight.reshape(-1, *([1] * (keep.ndim - 1))), keep.shape)[keep]
        return y[keep], score[keep], weight
    if y.ndim > 2:
        return y.reshape(len(y), -1), score.reshape(len(y), -1), weight
    return y, score, weight


def _reload(entry, task, method_dir: Path) -> MethodResult:
    from quanta.train.network import Network, read_history

    if entry.is_network:
        estimator = Network.load(method_dir)
    else:
        from quanta.methods import METHODS

        estimator = METHODS.get(entry.method).load(method_dir)
    stored = json.loads((method_dir / "metrics.json").read_text())
    seconds = stored.pop("seconds", {})
    history = read_history(method_dir / "history.jsonl")
    estimator.history = history
    return MethodResult(entry.name, estimator, method_dir, stored, history, seconds)


def _summary(run: ExperimentRun, task) -> str:
    """A plain-text metrics table of the test split."""
    rows = [(name, result.metrics.get("test", {})) for name, result in run.results.items()]
    keys = list(rows[0][1]) if rows else []
    width = max([len(n) for n, _ in rows] + [6])
    lines = ["test metrics:", "  " + "method".ljust(width) + "".join(k.rjust(18) for k in keys)]
    for name, values in rows:
        lines.append("  " + name.ljust(width) + "".join(f"{values.get(k, float('nan')):18.4f}" for k in keys))
    return "\n".join(lines)
