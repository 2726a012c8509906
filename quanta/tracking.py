"""Tracking: a run also logs to TensorBoard and MLflow, so that users keep the dashboards they have.

The experiment file's ``tracking:`` block says where::

    tracking:
      tensorboard: true          # <run directory>/tensorboard/<method>/; or a folder:
                                 #   <folder>/<experiment>/<run directory's name>/<method>/
      mlflow: true               # a file store ./mlruns; or a tracking URI: file:...,
                                 #   sqlite:///..., http(s)://... (a server), postgresql://...
      experiment: jets-study     # MLflow's experiment (default: the experiment's name)

What is logged, from the writing rank only (:func:`quanta.rundir.is_writing_rank`): per epoch
of a network (per round of a classical method that reports rounds, ``Method.notify``) the
history's numbers (``train_loss``, ``lr``, ``valid_<metric>``, ``samples_per_second``) at
step = epoch; at the end the scored metrics of every split as ``<split>/<metric>``, the
method's resolved parameters flattened (``params.hidden``, ``train.lr``) and the run
directory's path. MLflow gets one run per method nested in a parent run per experiment run (a
resumed run continues the same MLflow runs, found by the run directory's path); TensorBoard
gets the parameters and the test metrics as hparams.

Both libraries are optional (``pip install "quanta[tracking]"``: TensorBoard and
mlflow-skinny); they are imported only when a tracker is asked for, and a requested tracker
that is not installed is a one-line error before any work (:func:`resolved`). A ``file:``
store is MLflow's file store, which MLflow 3 keeps in maintenance mode behind
``MLFLOW_ALLOW_FILE_STORE`` (set here for such a store). An MLflow store that cannot be opened
is a one-line error as the methods start; one that fails later is one warning, and the
training goes on.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quanta.errors import UserError, closest, first_line, shown
from quanta.rundir import is_writing_rank
from quanta.train.callbacks import Callback

#: the folder of a run directory that holds TensorBoard's event files (``tensorboard: true``)
TENSORBOARD_FOLDER = "tensorboard"
#: the file store of ``mlflow: true``, relative to the folder quanta runs in (MLflow's own default)
MLFLOW_DEFAULT = "file:./mlruns"
#: the tracking URIs MLflow is given: a file store, a database, or a tracking server
MLFLOW_SCHEMES = ("file:", "sqlite:///", "postgresql://", "mysql://", "http://", "https://")
KEYS = ("tensorboard", "mlflow", "experiment")
INSTALL = 'pip install "quanta[tracking]"'
#: MLflow's limits on a parameter (250 characters of key, 6000 of value) and a batch (100 params)
PARAM_KEY, PARAM_VALUE, PARAMS_PER_BATCH = 250, 6000, 100


def resolved(raw: Any, methods: list[str]) -> dict[str, Any]:
    """The ``tracking:`` block checked and with its defaults (``{}`` when nothing is tracked).

    ``methods`` are the experiment's method names (a method named ``tensorboard`` would share
    its folder with the event files). Every mistake is one line naming the key; a tracker that
    is not installed names the extra to install.
    """
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        raise UserError(
            f"tracking: expected a mapping with keys {', '.join(KEYS)}, received {shown(raw)}"
        )
    for key in raw:
        if key not in KEYS:
            guess = closest(str(key), KEYS)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(f"tracking.{key}: unknown key{hint} allowed: {', '.join(KEYS)}")
    tensorboard, mlflow = raw.get("tensorboard", False), raw.get("mlflow", False)
    experiment = raw.get("experiment")
    if not isinstance(tensorboard, (bool, str)) or tensorboard == "":
        raise UserError(
            f"tracking.tensorboard: expected true, false or a folder, received {shown(tensorboard)}"
        )
    if not isinstance(mlflow, (bool, str)) or mlflow == "":
        raise UserError(
            "tracking.mlflow: expected true, false or a tracking URI "
            f"({', '.join(s + '...' for s in MLFLOW_SCHEMES)}), received {shown(mlflow)}"
        )
    if isinstance(mlflow, str) and not mlflow.startswith(MLFLOW_SCHEMES):
        raise UserError(
            f"tracking.mlflow: a tracking URI starts with one of {', '.join(MLFLOW_SCHEMES)}; "
            f"received {shown(mlflow)} (a folder is file:FOLDER)"
        )
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip()):
        raise UserError(
            f"tracking.experiment: expected MLflow's experiment name, received {shown(experiment)}"
        )
    if tensorboard is True and TENSORBOARD_FOLDER in methods:
        raise UserError(
            f"methods: a method named '{TENSORBOARD_FOLDER}' would share the run "
            "directory's folder of TensorBoard's files (tracking.tensorboard: true); rename it"
        )
    if tensorboard is not False and not installed("tensorboard"):
        raise UserError(f"tracking.tensorboard: TensorBoard is not installed; {INSTALL}")
    if mlflow is not False:
        if not installed("mlflow"):
            raise UserError(f"tracking.mlflow: MLflow is not installed; {INSTALL}")
        if (
            isinstance(mlflow, str)
            and mlflow.startswith(MLFLOW_SCHEMES[1:4])
            and not (installed("sqlalchemy") and installed("alembic"))
        ):
            raise UserError(
                f"tracking.mlflow: a database store ({mlflow.split(':')[0]}) needs "
                "SQLAlchemy and Alembic; pip install sqlalchemy alembic"
            )
    if tensorboard is False and mlflow is False:
        return {}
    return {
        "tensorboard": tensorboard,
        "mlflow": MLFLOW_DEFAULT if mlflow is True else mlflow,
        "experiment": experiment,
    }


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (it is not imported to find out)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a parent package that fails, a module set to None
        return False


def flattened(values: dict[str, Any], prefix: str = "") -> dict[str, str | int | float | bool]:
    """Nested parameters as one level of dotted names (``params.hidden``); lists, None as text."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flattened(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def numbers(values: dict[str, Any]) -> dict[str, float]:
    """The finite numbers among ``values`` (no flags, no text), as floats."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


class Tracking:
    """The trackers of one experiment run, used as a context manager around its methods.

    Off (no backend) when the config tracks nothing or on a rank other than 0; ``method`` then
    returns None. Leaving the ``with`` block ends the MLflow runs: finished, failed (an error),
    or killed (an interruption that a resume continues). ``name`` names MLflow's parent run
    (default: the run directory's folder name; a tuning trial's "trial 7"); an exception of
    ``stopped`` ends them as killed too (a pruned trial).
    """

    def __init__(
        self, config: Any, run_directory: Path, resuming: bool = False, name: str | None = None,
        stopped: tuple[type[BaseException], ...] = (),
    ):
        tracking = config.tracking or {}
        self.stopped = stopped  # exceptions that end the runs as KILLED: a tuning trial pruned
        self.run_directory = Path(run_directory).resolve()
        self.shared = {"task": config.task, "seed": config.seed}
        self.tensorboard: Path | None = None
        self.mlflow: _MLflowExperiment | None = None
        self.open: list[MethodTracking] = []
        if not tracking or not is_writing_rank():
            return
        if tracking["tensorboard"] is True:
            self.tensorboard = self.run_directory / TENSORBOARD_FOLDER
        elif tracking["tensorboard"]:
            self.tensorboard = (
                Path(tracking["tensorboard"]).expanduser() / config.name / self.run_directory.name
            )
        if tracking["mlflow"]:
            self.mlflow = _MLflowExperiment(
                tracking["mlflow"],
                tracking["experiment"] or config.name,
                self.run_directory,
                resuming,
                name or self.run_directory.name,
            )

    def method(self, entry: Any, folder: Path) -> MethodTracking | None:
        """The training callback that logs method ``entry`` (a resolved ``methods:`` entry)."""
        if self.tensorboard is None and self.mlflow is None:
            return None
        params = {**self.shared, **flattened(entry.model_dump(exclude={"name"}, exclude_none=True))}
        backends: list[Any] = []
        if self.tensorboard is not None:
            backends.append(_TensorBoard(self.tensorboard / entry.name))
        if self.mlflow is not None:
            backends.append(self.mlflow.method(entry.name, Path(folder).resolve(), params))
        tracked = MethodTracking(backends, params, str(Path(folder).resolve()))
        self.open.append(tracked)
        return tracked

    def __enter__(self) -> Tracking:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        status = "FINISHED" if error is None else "FAILED"
        if error is not None and (_interrupted(error) or isinstance(error, self.stopped)):
            status = "KILLED"  # Ctrl-C or a pre-emption: `--resume` continues these runs
        for tracked in self.open:
            tracked.close(status)
        if self.mlflow is not None:
            self.mlflow.close(status)


def _interrupted(error: BaseException) -> bool:
    """Whether ``error`` stopped the run for a resume or requeue (Ctrl-C, SIGTERM, SIGUSR1)."""
    from quanta.train.loop import TrainingInterrupted
    from quanta.train.preemption import Preempted

    return isinstance(error, (KeyboardInterrupt, TrainingInterrupted, Preempted))


class MethodTracking(Callback):
    """Logs one method's epochs (or rounds) as they end, and its scored metrics at the end."""

    def __init__(self, backends: list[Any], params: dict[str, Any], folder: str):
        self.backends = backends
        self.params = params
        self.folder = folder
        self.step = 0
        self.closed = False

    def on_epoch_end(self, trainer, epoch, logs):
        values = numbers({key: value for key, value in logs.items() if key != "epoch"})
        self.step = int(epoch)
        for backend in self.backends:
            backend.scalars(values, self.step)

    def finish(self, metrics: dict[str, dict[str, Any]]) -> None:
        """Log the scored metrics (``{split: {metric: value}}``) and the parameters; end the runs.

        TensorBoard's hparams show the test metrics (a tuning trial's: the validation metrics).
        """
        scored = {
            f"{split}/{name}": value
            for split, values in metrics.items()
            for name, value in numbers(values).items()
        }
        shown = {key: value for key, value in scored.items() if key.startswith("test/")} or {
            key: value for key, value in scored.items() if key.startswith("valid/")
        }
        for backend in self.backends:
            backend.finish(self.params, scored, shown, self.step, self.folder)
        self.close("FINISHED")

    def close(self, status: str) -> None:
        if not self.closed:
            self.closed = True
            for backend in self.backends:
                backend.close(status)


class _TensorBoard:
    """One method's event files, written through PyTorch's ``SummaryWriter``."""

    def __init__(self, folder: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(folder))

    def scalars(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)

    def finish(self, params, scored, shown, step, folder) -> None:
        from torch.utils.tensorboard.summary import hparams

        for key, value in scored.items():
            self.writer.add_scalar(key, value, step)
        for summary in hparams(params, shown):  # the hparams plugin's experiment, start and end
            self.writer.file_writer.add_summary(summary)
        self.writer.add_text("run_directory", folder, step)

    def close(self, status: str) -> None:
        self.writer.close()


class _MLflowExperiment:
    """The parent MLflow run of one experiment run, in an MLflow experiment of the store ``uri``."""

    def __init__(self, uri: str, experiment: str, run_directory: Path, resuming: bool, name: str):
        if uri.startswith("file:"):  # MLflow 3 keeps its file store behind a flag
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.errors = MlflowException
        with self.said("cannot open the experiment"):
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                try:
                    self.experiment_id = self.client.create_experiment(experiment)
                except MlflowException:  # another worker created it first
                    self.experiment_id = self.client.get_experiment_by_name(
                        experiment
                    ).experiment_id
            else:
                self.experiment_id = found.experiment_id
            tags = {"quanta.run_directory": str(run_directory), "quanta.experiment": experiment}
            self.parent = (
                self.earlier({"quanta.run_directory": str(run_directory)}) if resuming else None
            )
            if self.parent is None:
                self.parent = self.client.create_run(
                    self.experiment_id, run_name=name, tags=tags
                ).info.run_id

    @contextmanager
    def said(self, what: str) -> Iterator[None]:
        """MLflow's errors as one line naming the store and what failed."""
        try:
            yield
        except self.errors as error:
            raise UserError(f"tracking.mlflow {self.uri}: {what}: {first_line(error)}") from None

    def earlier(self, tags: dict[str, str]) -> str | None:
        """The id of this experiment's run with ``tags`` (a resumed run's), set running again."""
        condition = " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
        runs = self.client.search_runs([self.experiment_id], filter_string=condition, max_results=1)
        if not runs:
            return None
        self.client.update_run(runs[0].info.run_id, status="RUNNING")
        return runs[0].info.run_id

    def method(self, name: str, folder: Path, params: dict[str, Any]) -> _MLflowRun:
        """Method ``name``'s nested run: a resumed run's own, else a new one with its params."""
        from mlflow.entities import Param

        with self.said(f"cannot start the run of method '{name}'"):
            run_id = self.earlier({"mlflow.parentRunId": self.parent, "quanta.method": name})
            if run_id is None:
                tags = {
                    "mlflow.parentRunId": self.parent,
                    "quanta.method": name,
                    "quanta.run_directory": str(folder),
                }
                run_id = self.client.create_run(
                    self.experiment_id, run_name=name, tags=tags
                ).info.run_id
                pairs = [
                    Param(key[:PARAM_KEY], str(value)[:PARAM_VALUE])
                    for key, value in params.items()
                ]
                for start in range(0, len(pairs), PARAMS_PER_BATCH):
                    self.client.log_batch(run_id, params=pairs[start : start + PARAMS_PER_BATCH])
            return _MLflowRun(self, run_id)

    def close(self, status: str) -> None:
        """End the parent run; a store that fails now is a warning (an error may be under way)."""
        try:
            self.client.set_terminated(self.parent, status)
        except self.errors as error:
            warnings.warn(
                f"tracking.mlflow {self.uri}: cannot end the experiment's run "
                f"{self.parent}: {first_line(error)}",
                stacklevel=2,
            )


class _MLflowRun:
    """One method's MLflow run, nested in its experiment's parent run.

    A store that fails once the run has started (a tracking server gone away) stops this run's
    logging with one warning; the training goes on and its run directory is complete.
    """

    def __init__(self, experiment: _MLflowExperiment, run_id: str):
        self.experiment, self.client, self.run_id = experiment, experiment.client, run_id
        self.lost = False

    def scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self.call(
            "log metrics",
            self.client.log_batch,
            self.run_id,
            metrics=[Metric(key, value, stamp, step) for key, value in values.items()],
        )

    def finish(self, params, scored, shown, step, folder) -> None:
        self.scalars(scored, step)  # the parameters went in when the run was made

    def close(self, status: str) -> None:
        self.call("end the run", self.client.set_terminated, self.run_id, status, last=True)

    def call(self, what: str, function, *args: Any, last: bool = False, **kwargs: Any) -> None:
        """``function(*args, **kwargs)``; MLflow's first failure is one warning, later calls none
        (but the ``last`` one, ending the run, is always tried: the store may be back)."""
        if self.lost and not last:
            return
        try:
            function(*args, **kwargs)
        except self.experiment.errors as error:
            if self.lost:
                return
            self.lost = True
            warnings.warn(
                f"tracking.mlflow {self.experiment.uri}: cannot {what} of run "
                f"{self.run_id}: {first_line(error)}; no more MLflow logging for it",
                stacklevel=2,
            )
