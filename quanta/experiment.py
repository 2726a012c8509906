"""Running an experiment: one data set, one split, every method, one run directory.

The run directory (its layout is in :mod:`quanta.rundir`) holds the resolved
config, the environment, the data record, the metrics of every method, the
report, and one folder per method. Every method sees the same split (the TMVA habit: several methods, one data
set, one ROC plot). The test split is scored once, at the end. A run never
overwrites another; ``resume`` continues an interrupted run in place: finished
methods are kept, an interrupted network continues from its last checkpoint.
``run_dir`` names the run directory itself, so that a batch job requeued with
the same command continues where it stopped (:func:`run_experiment`).

While a run works, SIGTERM and SIGUSR1 (a batch system's pre-emption warning)
make it stop for a requeue (:mod:`quanta.train.preemption`): a training
network writes its checkpoint with the place inside the epoch and stops after
the step it is in; anything else (a classical method, scoring, between
methods) stops at once and is redone on the requeue, which is exact because
every method is seeded; finished methods are kept.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.config import (
    ARRAYS,
    ExperimentConfig,
    default_experiment_path,
    read_experiment,
    resolve,
    to_yaml,
)
from quanta.data.dataset import Dataset
from quanta.data.split import SPLITS
from quanta.errors import UserError, shown
from quanta.evaluate.input_summary import summarise_part
from quanta.ranking import variable_ranking
from quanta.rundir import MethodDirectory, RunDirectory, is_writing_rank
from quanta.tasks.evaluation import per_element
from quanta.train import preemption
from quanta.train.distributed import shared_object, shared_run_directory
from quanta.train.distributed import start as start_ranks


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
                   verbose: bool = True, report: bool = True,
                   run_dir: str | Path | None = None, repeat: int | None = None) -> ExperimentRun:
    """Run every method of an experiment on one split and write one run directory.

    Args:
        experiment: a YAML path, a dict, or None for the built-in default experiment.
        out: parent folder of run directories (overrides the config's ``output``).
        seed: overrides the config's ``seed`` (data, split, initialisation).
        device: overrides the config's ``device`` (auto, cpu, cuda).
        resume: an earlier run directory to continue instead of starting a new one.
        data: a data set to use instead of the config's source (``quanta.fit``).
        module: the ``torch.nn.Module`` of a method whose model is ``module`` (``quanta.fit``).
        callbacks: extra training callbacks for every method (per epoch of a network, per round of
            boosted trees; see ``quanta.methods.base.Method.notify``).
        verbose: print progress and the metrics table.
        report: write ``report.html`` at the end (``quanta.fit`` leaves it to ``Run.report()``).
        run_dir: this exact run directory: created when absent, continued exactly as ``resume``
            does when it holds an interrupted run of the same resolved config (``output`` aside),
            kept when that run finished (nothing is retrained); another config there is an error
            naming the first key that differs. A requeued batch job repeats the same command.
        repeat: overrides the config's ``repeat``: train every method this many times with seeds
            derived from (seed, repeat) on the same split, ``repeats.json`` the mean ± std
            (:mod:`quanta.repeats`).

    While it runs, SIGTERM and SIGUSR1 stop it for a requeue: ``quanta.train.loop.TrainingPreempted``
    when a network saved its place inside an epoch, else ``quanta.train.preemption.Preempted``;
    either names the run directory in ``run_dir`` (None when none was made yet).
    """
    start_ranks()  # joins torchrun's process group; nothing for one process
    if resume is not None and run_dir is not None:
        raise UserError("run: give --resume RUN_DIR or --run-dir DIR, not both")
    with preemption.handling():
        return _run_experiment(experiment, out, seed, device, resume, data, module, callbacks, verbose,
                               report, run_dir, repeat)


def _run_experiment(experiment, out, seed, device, resume, data, module, callbacks, verbose, report,
                    given_dir, repeat=None) -> ExperimentRun:
    say = print if verbose and is_writing_rank() else _silent  # under torchrun, rank 0 speaks
    run_dir = None
    if resume is not None:
        run_dir = RunDirectory.open(resume)
        raw = run_dir.read_config()
        if raw.get("data", {}).get("source") == ARRAYS:
            raise UserError(f"{run_dir.path}: this run was trained on in-memory arrays; resume it from Python with the same data")
        config = resolve(raw)
    else:
        raw = load_config(experiment)
        overrides = {"seed": seed, "device": device, "output": None if out is None else str(out),
                     "repeat": repeat}
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if data is not None:
            given = raw.get("data", {})
            raw["data"] = {"split": given.get("split", [0.7, 0.15, 0.15]),
                           "standardize": given.get("standardize", True), "source": ARRAYS}
        config = resolve(raw)

    prepared = None
    if given_dir is not None:
        path = Path(given_dir)
        with ExitStack() as holding:  # a second process on the folder: the lock's one-line error
            held = _decided(lambda: _claim(path, config, holding))
            run_dir = RunDirectory.create(path.parent, name=path.name)  # on every rank
            holding.enter_context(_stopping_in(run_dir))
            if held == "finished":
                say(f"{run_dir.path}: this experiment finished there already; nothing retrained")
                results = {entry.name: reload_method(entry, run_dir.method(entry.name))
                           for entry in config.methods}
            else:
                prepared = prepare(config, data, say)
                if held == "new":
                    _write_start(run_dir, config, prepared)
                results = _run_methods(prepared, run_dir, callbacks, held == "interrupted", say, module)
    elif run_dir is None:
        RunDirectory.check_parent(Path(config.output) / config.name)  # a bad --out fails before any work
        prepared = prepare(config, data, say)
        run_dir = shared_run_directory(Path(config.output) / config.name)  # rank 0's, named alike
        with run_dir.lock(), _stopping_in(run_dir):
            _write_start(run_dir, config, prepared)
            results = _run_methods(prepared, run_dir, callbacks, False, say, module)
    else:
        with run_dir.lock(), _stopping_in(run_dir):  # two resumes of one run would interleave its files
            prepared = prepare(config, data, say)
            results = _run_methods(prepared, run_dir, callbacks, True, say, module)
    run = ExperimentRun(run_dir.path, config, results)
    say(_summary(run, prepared.task if prepared is not None else None))
    if report and prepared is None and (run_dir / RunDirectory.REPORT).is_file():
        say(f"report: {run_dir / RunDirectory.REPORT} (kept)")  # a finished run left as it was
    elif report and run_dir.writer:  # under torchrun, rank 0 writes the report
        say(f"report: {run.report()}")
    return run


def _write_start(run_dir: RunDirectory, config: ExperimentConfig, prepared: Prepared) -> None:
    """The files a run directory holds before its first method: config, data, inputs, environment."""
    run_dir.write_config(to_yaml(config))
    run_dir.write_data(data_record(prepared.dataset, prepared.parts))
    if not getattr(prepared.dataset, "episodic", False):  # an environment has no inputs to summarise
        run_dir.write_inputs(summarise_part(prepared.parts["train"], prepared.dataset.feature_names,
                                            prepared.dataset.classes, prepared.task.evaluation.output,
                                            config.seed))
    run_dir.write_environment(config.seed, config.device)


@contextmanager
def _stopping_in(run_dir: RunDirectory) -> Iterator[None]:
    """A pre-emption that stops the block names ``run_dir``, for the requeue's command."""
    try:
        yield
    except preemption.Preempted as stop:
        if stop.run_dir is None:
            stop.run_dir = run_dir.path
        raise


#: files a run directory holds before its first method starts (a folder with only these is begun anew)
_START_FILES = (RunDirectory.CONFIG, RunDirectory.DATA, RunDirectory.INPUTS, RunDirectory.MANIFEST)


def _directory_at(path: Path) -> RunDirectory:
    """The run directory ``--run-dir`` names, created when absent; a folder of other files is refused."""
    RunDirectory.check_parent(path, option="--run-dir")
    if path.exists():
        if not path.is_dir():
            raise UserError(f"--run-dir {path}: a file, not a folder; give a folder")
        other = sorted(p.name for p in path.iterdir() if not p.name.startswith(".")
                       and p.name not in (*_START_FILES, RunDirectory.ENVIRONMENT))
        if other and not (path / RunDirectory.CONFIG).is_file():
            raise UserError(f"--run-dir {path}: neither empty nor a quanta run directory (it holds "
                            f"{other[0]} and no {RunDirectory.CONFIG}); give an empty or new folder")
    run_dir = RunDirectory.create(path.parent, name=path.name)
    if run_dir.writer:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"--run-dir {path}: cannot be created ({error.strerror})") from None
    return run_dir


def _decided(decide) -> Any:
    """``decide()`` on the writing rank, and its answer, or its one-line error, on every rank."""
    answer, message = None, None
    if is_writing_rank():
        try:
            answer = decide()
        except UserError as error:
            message = str(error)
    answer, message = shared_object((answer, message))  # the same for one process
    if message is not None:
        raise UserError(message)
    return answer


def _claim(path: Path, config: ExperimentConfig, holding: ExitStack) -> str:
    """Make or check the ``--run-dir`` folder, hold its lock (until ``holding`` closes), and say
    what it holds for ``config`` (:func:`_held_run`)."""
    run_dir = _directory_at(path)
    holding.enter_context(run_dir.lock())
    return _held_run(run_dir, config)


def _held_run(run_dir: RunDirectory, config: ExperimentConfig) -> str:
    """What ``run_dir`` holds for ``config``: "new" (nothing begun), "interrupted" or "finished".

    A run of another config is refused in one line naming the first key that differs;
    ``output`` is not compared (the folder is given).
    """
    import yaml

    if not (run_dir / RunDirectory.CONFIG).is_file():
        return "new"
    there = yaml.safe_load(to_yaml(resolve(run_dir.read_config())))
    here = yaml.safe_load(to_yaml(config))
    there.pop("output", None)
    here.pop("output", None)
    difference = _first_difference(there, here)
    if difference is not None:
        key, old, new = difference
        raise UserError(f"--run-dir {run_dir.path}: holds a run of another configuration ({key} is "
                        f"{shown(old)} there, {shown(new)} now); give another folder or the same experiment")
    if not (run_dir / RunDirectory.ENVIRONMENT).is_file():  # stopped before its first method
        return "new"
    finished = (run_dir / RunDirectory.METRICS).is_file() and all(
        run_dir.method(entry.name).finished for entry in config.methods)
    return "finished" if finished else "interrupted"


def _first_difference(there: Any, here: Any, key: str = "") -> tuple[str, Any, Any] | None:
    """``(dotted key, value there, value here)`` of the first place two configs differ, or None."""
    if isinstance(there, dict) and isinstance(here, dict):
        for name in [*there, *(k for k in here if k not in there)]:
            if name not in there or name not in here:
                return (f"{key}.{name}" if key else str(name), there.get(name), here.get(name))
            found = _first_difference(there[name], here[name], f"{key}.{name}" if key else str(name))
            if found is not None:
                return found
        return None
    if isinstance(there, list) and isinstance(here, list) and len(there) == len(here):
        for index, (one, other) in enumerate(zip(there, here, strict=True)):
            found = _first_difference(one, other, f"{key}[{index}]")
            if found is not None:
                return found
        return None
    return None if there == here else (key, there, here)


def _run_methods(prepared: Prepared, run_dir: RunDirectory, callbacks: list | None, resuming: bool, say,
                 module: Any) -> dict[str, MethodResult]:
    from quanta.repeats import check_repeats, run_repeats
    from quanta.tracking import Tracking

    check_repeats(prepared.config)
    say(f"run directory: {run_dir.path}")
    results: dict[str, MethodResult] = {}
    with Tracking(prepared.config, run_dir.path, resuming) as tracking:  # TensorBoard, MLflow
        for entry in prepared.config.methods:
            results[entry.name] = run_method(prepared, entry, run_dir, callbacks or [], resuming, say, module,
                                             tracking)
    run_repeats(prepared, run_dir, results, callbacks, resuming, say, module)  # repeat: N > 1
    run_dir.write_metrics({name: {**r.metrics, "seconds": r.seconds} for name, r in results.items()})
    return results


def _silent(*args: Any, **kwargs: Any) -> None:
    pass


@dataclass
class Prepared:
    """What every method of an experiment shares: config, task, data, its split and other views.

    One preparation serves many methods, many tuning trials and every rank of a
    distributed run; :func:`run_method` runs one method entry on it.
    """

    config: ExperimentConfig
    task: Any
    dataset: Any  # a Dataset or a Stream
    parts: dict[str, Any]
    views: dict[str, dict[str, Any]]  # data overrides (as a key) -> the parts of that view

    def task_for(self, entry) -> Any:
        """The task method ``entry`` learns: the experiment's, with the entry's own ``task_params`` on top."""
        if not entry.task_params:
            return self.task
        from quanta.tasks import TASKS

        index = next(i for i, e in enumerate(self.config.methods) if e.name == entry.name)
        return TASKS.create(self.config.task, where=f"methods[{index}].task_params",
                            **{**self.config.task_params, **entry.task_params})

    def parts_for(self, entry) -> dict[str, Any]:
        """The train, valid and test parts that method ``entry`` reads."""
        return self.views[_view_key(entry.data)]


def prepare(config: ExperimentConfig, data: Any = None, say=_silent) -> Prepared:
    """Create the task, load and check the data, split it; load the other views methods ask for."""
    from quanta import estimators
    from quanta.tasks import TASKS

    task = TASKS.create(config.task, where="task_params", **config.task_params)
    for index, entry in enumerate(config.methods):  # a kind the task cannot train: before any data
        task.check_kind(estimators.kind_of(entry).key, f"methods[{index}]")
    dataset = data if data is not None else _load_source(config, {}, say)
    dataset = dataset.checked(task.check_targets, task.needs_targets)
    parts = dataset.parts(config.data.split, config.seed, task.check_targets)
    task.check_split(parts)
    if getattr(dataset, "episodic", False):  # an environment: episodes, not samples
        say(f"data: environment {dataset.name}, observations {dataset.input_shape}, actions "
            f"{dataset.action_space}; episodes: train as many as each agent plays, valid "
            f"{len(parts['valid']):,}, test {len(parts['test']):,}")
    else:
        say(f"data: {dataset.name}, {sum(len(p) for p in parts.values()):,} samples, inputs "
            f"{dataset.input_shape}" + (" (streamed from disk)" if dataset.streamed else "") + "; split "
            + ", ".join(f"{name} {len(part):,}" for name, part in parts.items()))
    views = {_view_key(e.data): parts for e in config.methods if not e.data}
    for index, entry in enumerate(config.methods):
        if entry.data and _view_key(entry.data) not in views:
            other = _load_source(config, entry.data, say)
            if other.streamed or dataset.streamed:
                raise UserError(f"methods[{index}].data: other views of streamed data are not supported; "
                                "give each view its own experiment or set data.streaming: never")
            other = other.checked(task.check_targets, task.needs_targets)
            if len(other) != len(dataset) or not _same_targets(other, dataset):
                raise UserError(f"methods[{index}].data: {entry.data} changes the samples, not only their "
                                "representation; methods of one experiment must see the same events")
            views[_view_key(entry.data)] = other.parts(config.data.split, config.seed, task.check_targets)
    for entry in config.methods:  # e.g. a method that needs memory given a stream: before any work
        estimators.kind_of(entry).check_data(entry, views[_view_key(entry.data)]["train"])
    return Prepared(config, task, dataset, parts, views)


def _same_targets(one, other) -> bool:
    if ("y" in one) != ("y" in other):
        return False
    return "y" not in one or np.array_equal(one.y, other.y)


def _view_key(overrides: dict[str, Any]) -> str:
    return json.dumps(overrides, sort_keys=True)


def _load_source(config: ExperimentConfig, overrides: dict[str, Any], say) -> Dataset:
    from quanta.data import SOURCES

    params = {**config.data.params, **overrides}
    say(f"data: loading source '{config.data.source}' {params}")
    return SOURCES.create(config.data.source, where="data", **params)


def data_record(dataset: Any, parts: dict[str, Any]) -> dict[str, Any]:
    """What the run's data was: source, resolved feature names, classes, split sizes, reading details."""
    return {"name": dataset.name, "feature_names": dataset.feature_names, "classes": dataset.classes,
            "input_shape": list(dataset.input_shape), "split": {name: len(part) for name, part in parts.items()},
            "streamed": dataset.streamed,
            "info": {k: v for k, v in dataset.info.items() if isinstance(v, (str, int, float, bool, list, dict))}}


def run_method(prepared: Prepared, entry, run_dir: RunDirectory, callbacks: list, resuming: bool, say=_silent,
               module: Any = None, tracking: Any = None) -> MethodResult:
    """Fit method ``entry`` on the prepared parts, score every split, write its folder of ``run_dir``.

    ``tracking`` (a :class:`quanta.tracking.Tracking`) also logs its epochs and metrics.
    """
    from quanta import estimators

    task, parts = prepared.task_for(entry), prepared.parts_for(entry)
    folder = run_dir.method(entry.name)
    if resuming and folder.finished:
        say(f"{entry.name}: finished in the earlier run, kept")
        result = reload_method(entry, folder)
        if not (folder / folder.IMPORTANCE).exists():  # stopped while ranking, or an older run
            _rank_variables(result.estimator, task, parts["valid"], prepared.config, folder, say,
                            entry.name)
            folder.seal()
        return result
    folder.create()
    train = task.training_rows(parts["train"], "data.split train")
    valid = task.training_rows(parts["valid"], "data.split valid")
    start = time.perf_counter()
    kind = estimators.kind_of(entry)
    estimator = estimators.build(entry, task, train, prepared.config.data.standardize, module)
    resume = resuming and kind.can_resume(folder.path)
    say(kind.announce(entry, estimator, resume))
    tracked = tracking.method(entry, folder.path) if tracking is not None else None
    if tracked is not None:
        callbacks = [*callbacks, tracked]
    estimator.fit(train, valid, task=task, directory=folder.path, callbacks=callbacks, resume=resume,
                  label=entry.name)
    if folder.writer:
        estimator.save(folder.path)
    folder.write_history(estimator.history)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = _score(estimator, task, parts, folder)
    seconds = {"fit": fit_seconds, "predict": time.perf_counter() - start}
    generated = _compare_generated(estimator, parts["test"], prepared, folder, say, entry.name)
    metrics.setdefault("test", {}).update(generated)
    folder.write_metrics(metrics, seconds)
    if tracked is not None:
        tracked.finish(metrics)
    _rank_variables(estimator, task, valid, prepared.config, folder, say, entry.name)
    folder.seal()  # from now on every read of the method's files is checked
    return MethodResult(entry.name, estimator, folder.path, metrics, list(estimator.history), seconds)


def _score(estimator, task, parts: dict[str, Dataset], folder: MethodDirectory) -> dict[str, dict[str, float]]:
    """Predict every split, save the predictions, return the metrics per split."""
    arrays: dict[str, np.ndarray] = {}
    metrics: dict[str, dict[str, float]] = {}
    for name in SPLITS:
        if len(parts[name]) == 0:
            continue
        metrics[name], saved = score_part(estimator, task, parts[name], name)
        arrays.update(saved)
    folder.write_predictions(arrays)
    return metrics


def score_part(estimator, task, part, split: str) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The task's metrics of ``estimator`` on ``part`` and the prediction arrays to save for it
    (``<split>_[<head>_]y``, ``_score``, ``_weight``).

    An estimator that gives an uncertainty of its scores (a standard deviation
    per score) has it saved as ``<split>_uncertainty`` and evaluated by the
    task's ``uncertainty_metrics`` (coverage of the intervals, for regression).
    """
    from quanta.estimators import predict_with_uncertainty

    score, uncertainty = predict_with_uncertainty(estimator, part)
    arrays: dict[str, np.ndarray] = {}
    metrics: dict[str, float] = {}
    known = part.targets
    for head, (evaluation, target, head_score) in task.evaluation_heads(known, score).items():
        y, scored, weight = per_element(known, target, head_score)
        prefix = f"{head}_" if head else ""
        if y is not None:
            arrays[f"{split}_{prefix}y"] = y
        arrays[f"{split}_{prefix}score"] = scored
        if weight is not None:
            arrays[f"{split}_{prefix}weight"] = weight
        values = dict(evaluation.metrics(y, scored, weight))
        if uncertainty is not None and not head:  # per-head uncertainties are not given
            sigma = per_element(known, target, uncertainty)[1]
            arrays[f"{split}_uncertainty"] = sigma
            if y is not None and evaluation.uncertainty_metrics is not None:
                values.update(evaluation.uncertainty_metrics(y, scored, sigma, weight))
        # undefined on this split: left out
        metrics.update({prefix + k: v for k, v in values.items() if math.isfinite(v)})
    return metrics, arrays


#: the numbers of a generative method's ``generated.json`` that also enter its test metrics
GENERATED_METRICS = ("classifier_auc", "classifier_auc_high_level", "separation_power_mean",
                     "separation_power_max", "wasserstein_mean")


def _compare_generated(estimator, test, prepared: Prepared, folder: MethodDirectory, say,
                       name: str) -> dict[str, float]:
    """A generative method draws as many samples as the test split holds, with its conditions,
    and writes their comparison with it (``generated.json``: observables, separation powers,
    Wasserstein distances, the classifier test, sample diversity, samples per second).

    Returns the summary numbers (:data:`GENERATED_METRICS`) for the test metrics; none for a
    method that does not generate.
    """
    if not getattr(estimator, "generates", False) or not folder.writer or test.streamed or len(test) < 2:
        return {}
    from quanta.evaluate.generated import compare_samples

    condition = {key: test.arrays[key] for key in estimator.conditions}
    start = time.perf_counter()
    fake = estimator.sample(len(test), condition, seed=prepared.config.seed)
    seconds = time.perf_counter() - start
    record = compare_samples(test.x, fake, test.arrays, test.info, seed=prepared.config.seed,
                             conditions=estimator.conditions)
    record["samples_per_second"] = len(test) / max(seconds, 1e-12)
    folder.write_generated(record)
    say(f"{name}: {len(test):,} generated samples ({record['samples_per_second']:,.0f}/s) against the "
        f"test split: classifier AUC {record['classifier_auc']:.3f} (0.5: indistinguishable)")
    return {key: float(record[key]) for key in GENERATED_METRICS if key in record}


def reload_method(entry, folder: MethodDirectory) -> MethodResult:
    """The result of a method that finished in an earlier run, loaded from its folder."""
    from quanta import estimators

    estimator = estimators.load(entry, folder.path)
    stored, seconds = folder.read_metrics()
    estimator.history = folder.read_history()
    return MethodResult(entry.name, estimator, folder.path, stored, estimator.history, seconds)


def _rank_variables(estimator, task, valid, config: ExperimentConfig, folder: MethodDirectory,
                    say, name: str) -> None:
    """Write the method's ``importance.json`` and print its first variables."""
    if not folder.writer:  # the other ranks of a distributed run would compute what none writes
        return
    if getattr(valid, "episodic", False):  # an agent's observations are not ranked
        return
    record = variable_ranking(estimator, task, valid, config.seed, config.importance)
    folder.write_importance(record)
    ranked = sorted((f for f in record["features"] if "drop" in f), key=lambda f: -f["drop"])
    if ranked:
        first = ", ".join(f["name"] for f in ranked[:5]) + (", ..." if len(ranked) > 5 else "")
        say(f"{name}: variables ranked by the drop of validation {record['metric']} "
            f"when shuffled: {first}")
    else:
        say(f"{name}: variables not shuffled ({record.get('left_out', 'no variables')})")


def _summary(run: ExperimentRun, task) -> str:
    """A plain-text metrics table of the test split."""
    from quanta.evaluate import COMPANIONS, COUNTS
    from quanta.report.html import format_measurement

    rows = [(name, result.metrics.get("test", {})) for name, result in run.results.items()]
    first = list(dict.fromkeys(key for _, values in rows for key in values))  # every method's
    keys = [k for k in first if not any(k.endswith(s) and k.removesuffix(s) in first for s in COMPANIONS)]
    width = max([len(n) for n, _ in rows] + [6])
    columns = {key: max(18, len(key) + 2) for key in keys}  # a long metric name keeps its column
    lines = ["test metrics:", "  " + "method".ljust(width) + "".join(k.rjust(columns[k]) for k in keys)]
    for name, values in rows:
        cells = []
        for key in keys:
            value, size = values.get(key), columns[key]
            if value is None:  # not given by this method (a coverage without an uncertainty)
                cells.append("-".rjust(size))
            elif values.get(f"{key}_lower_limit"):
                cells.append(f"> {value:,.0f}".rjust(size))
            elif values.get(f"{key}_low_statistics"):  # marked, explained below the table
                cells.append((format_measurement(value, values.get(f"{key}_error")) + " !")
                             .rjust(size))
            elif f"{key}_error" in values:
                cells.append(format_measurement(value, values[f"{key}_error"]).rjust(size))
            elif key in COUNTS:
                cells.append(f"{value:{size},.0f}")
            else:
                cells.append(f"{value:{size}.4f}")
        lines.append("  " + name.ljust(width) + "".join(cells))
    if any(values.get(f"{key}_low_statistics") for _, values in rows for key in keys):
        from quanta.evaluate.binary import LOW_STATISTICS

        lines.append(f"  ! rests on fewer than {LOW_STATISTICS} surviving background events "
                     "(low statistics)")
    return "\n".join(lines)
