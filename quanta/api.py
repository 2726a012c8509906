"""``quanta.fit``: one model or method on one data set, in one call; ``quanta.load_run`` to reopen one.

    run = qt.fit("mlp", (X, y), task="binary", epochs=20, params={"hidden": [32, 32]})
    run.metrics["test"]["auc"]; run.predict(X_new); run.save("results/mlp")
    run = qt.load_run("results/mlp"); run.report()

It is a one-method experiment: the same validation, split, training,
evaluation and run directory as ``quanta run``. Unless ``out=`` names a
folder, the run directory is a temporary one, removed when the Run is
garbage-collected: :meth:`Run.save` keeps it.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quanta.config import MODULE
from quanta.data.dataset import Dataset, from_arrays
from quanta.errors import UserError
from quanta.experiment import ExperimentRun, MethodResult, run_experiment


@dataclass
class Run:
    """The result of :func:`fit`: metrics per split, history, predictions, report."""

    experiment: ExperimentRun
    result: MethodResult

    @property
    def directory(self) -> Path:
        return self.experiment.directory

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """``{split: {metric: value}}`` for train, valid and test."""
        return self.result.metrics

    @property
    def history(self) -> list[dict[str, Any]]:
        """One record per epoch (networks) or boosting round (trees)."""
        return self.result.history

    @property
    def estimator(self):
        """The fitted network (``.model`` is the torch module) or method."""
        return self.result.estimator

    def predict(self, data: Any) -> np.ndarray:
        """Scores for a Dataset, an array of inputs, or files (a path or a list of paths).

        Files are read as the run read its own (a run from the ``files``
        source): same derived columns, selection and features; the scores of
        several files are concatenated in the order given, row-aligned with
        each file's selected rows. The saved transforms are applied.
        """
        if isinstance(data, (str, Path)) or (isinstance(data, list) and data and isinstance(data[0], (str, Path))):
            return self._predict_files([data] if isinstance(data, (str, Path)) else data)
        if not isinstance(data, Dataset):
            data = from_arrays(data, name="predict inputs")
        return self.result.estimator.predict(data)

    def _predict_files(self, paths: list[str | Path]) -> np.ndarray:
        from quanta.predict import FileInputs, file_reading
        from quanta.rundir import RunDirectory

        run = RunDirectory(self.directory)
        raw = run.read_config()
        if file_reading(run, raw) is None:
            raise UserError(f"{self.directory}: this run was not trained from files; pass arrays or a Dataset")
        reader = FileInputs(run, raw)
        scores = []
        for path in paths:
            if not Path(path).is_file():
                raise UserError(f"{path}: no such file")
            scores.extend(self.result.estimator.predict(inputs) for inputs, _ in reader.chunks(str(path))
                          if len(inputs))
        return np.concatenate(scores) if scores else np.zeros(0, np.float32)

    def sample(self, n: int, condition: dict[str, Any] | None = None, seed: int = 0) -> np.ndarray:
        """``n`` new samples of the inputs from a generative method (vae, gan), in the data's units.

        ``condition`` gives a conditional model's conditions, one value or ``n``
        each (e.g. ``{"energy": 50.0}``); the same ``seed`` gives the same samples.
        """
        estimator = self.result.estimator
        if not callable(getattr(estimator, "sample", None)) or not getattr(estimator, "generates", False):
            raise UserError(f"{self.result.name}: this method does not generate samples; sampling needs a "
                            "generative model (vae, gan)")
        return estimator.sample(n, condition, seed)

    def report(self) -> Path:
        """Write ``report.html`` in the run directory; returns its path."""
        return self.experiment.report()

    def save(self, directory: str | Path) -> Path:
        """Copy the run directory to ``directory`` (new, or an empty folder) and go on from there.

        ``qt.load_run(directory)`` reopens it later, ``quanta report`` and
        ``quanta predict`` read it.
        """
        target = Path(directory)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise UserError(f"{target}: exists and is not an empty folder; save a run to a new folder")
        if target.resolve() == self.directory.resolve():
            return target
        try:
            shutil.copytree(self.directory, target, dirs_exist_ok=True)
        except OSError as error:
            raise UserError(f"{target}: cannot be written ({error.strerror or type(error).__name__})") from None
        self.experiment.directory = target
        for result in self.experiment.results.values():
            result.directory = target / result.name
        return target


def load_run(directory: str | Path, method: str | None = None) -> Run:
    """Reopen a finished run directory (of ``quanta run`` or a saved :class:`Run`).

    ``method`` picks one of its methods (default: the first that finished);
    every finished method is in ``run.experiment.results``.
    """
    from quanta.config import resolve
    from quanta.experiment import reload_method
    from quanta.rundir import RunDirectory

    run_dir = RunDirectory.open(directory)
    raw = run_dir.read_config()
    raw.pop("tracking", None)  # reading a run logs nothing: its trackers need not be installed
    config = resolve(raw)
    results = {}
    for entry in config.methods:
        folder = run_dir.method(entry.name)
        if folder.finished:
            results[entry.name] = reload_method(entry, folder)
    if not results:
        raise UserError(f"{run_dir.path}: no method of this run has finished (resume it with quanta run --resume)")
    chosen = method or next(iter(results))
    if chosen not in results:
        from quanta.errors import unknown_name

        raise unknown_name("method", chosen, results, "the run's config.yaml")
    return Run(ExperimentRun(run_dir.path, config, results), results[chosen])


def _as_dataset(data: Any) -> Any:
    if isinstance(data, Dataset) or getattr(data, "streamed", False):  # a Dataset or a Stream
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return from_arrays(data[0], data[1])
    raise UserError("data: expected a quanta Dataset (quanta.data.load) or a tuple (X, y) of arrays, "
                    f"received {type(data).__name__}")


def fit(model: Any, data: Any, task: str = "binary", *, params: dict[str, Any] | None = None,
        task_params: dict[str, Any] | None = None,
        name: str | None = None, split: tuple[float, float, float] = (0.7, 0.15, 0.15),
        seed: int = 1, out: str | Path | None = None, standardize: bool = True, verbose: bool = False,
        callbacks: list | None = None, **train: Any) -> Run:
    """Train ``model`` on ``data`` for ``task`` and evaluate it on a held-out test split.

    Args:
        model: a registered model name (``"mlp"``), a registered method name
            (``"boosted_trees"``), or any ``torch.nn.Module`` whose forward takes the inputs.
        data: a :class:`Dataset` or a tuple ``(X, y)`` of arrays.
        task: ``binary``, ``multiclass``, ``regression``, ... (``quanta tasks``).
        task_params: parameters of the task, if it has any.
        params: hyperparameters of the model or method.
        split: train, validation and test fractions.
        seed: the seed of split, initialisation and batch order.
        out: the folder that receives the run directory (``out/<name>/<timestamp>``);
            None: a temporary one, removed with the Run unless :meth:`Run.save` keeps it.
        standardize: standardise inputs with statistics of the training split.
        verbose: print the data, training progress and the metrics table.
        callbacks: training callbacks (``quanta.train.callbacks.Callback``): per epoch of a
            network, per round of boosted trees, at start and end of every method.
        **train: training options of a network (``epochs``, ``batch_size``, ``lr``,
            ``optimizer``, ``schedule``, ``patience``, ``device``, ...; see ``TrainConfig``).
    """
    import torch

    from quanta.methods import METHODS
    from quanta.models import MODELS

    dataset = _as_dataset(data)
    label = name or (model if isinstance(model, str) else type(model).__name__.lower())
    entry: dict[str, Any] = {"name": label, "params": dict(params or {})}
    module = None
    if isinstance(model, torch.nn.Module):
        module = model
        entry["model"] = MODULE
        if params:
            raise UserError("params: a torch.nn.Module is built already; params apply to registered names only")
    elif isinstance(model, str) and model in METHODS and model not in MODELS:
        entry["method"] = model
    elif isinstance(model, str):
        entry["model"] = model
    else:
        raise UserError(f"model: expected a registered name or a torch.nn.Module, received {type(model).__name__}")
    if "method" in entry and train:
        raise UserError(f"{', '.join(train)}: training options apply to networks, not to method '{model}'")
    if "model" in entry:
        entry["train"] = {"progress": verbose, **train}
    scratch = tempfile.mkdtemp(prefix="quanta-run-") if out is None else None
    config = {"name": label, "seed": seed, "task": task, "task_params": dict(task_params or {}),
              "data": {"split": list(split), "standardize": standardize},
              "methods": [entry], "output": str(out if out is not None else scratch)}
    try:
        experiment = run_experiment(config, data=dataset, verbose=verbose, callbacks=callbacks,
                                    module=module, report=False)
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    run = Run(experiment, experiment.results[label])
    if scratch is not None:  # nothing is left behind unless the run is saved
        weakref.finalize(run, shutil.rmtree, scratch, True)
    return run
