"""A network method: a model, its task and its fitted transform, trained as one.

This is what an experiment runs for a ``model:`` entry, and what
``quanta.fit`` returns inside its Run. It has the same ``fit``/``predict``
surface as the classical methods in ``quanta.methods``:

- ``fit(train, valid)`` fits the input transform on ``train`` only (and, for a
  task that scales its targets - regression - the targets' shift and scale),
  then trains; losses in the history are in those scaled units;
- ``predict(data)`` applies the saved transform and returns task scores (in the
  targets' own units);
- ``save(directory)`` / ``Network.load(directory)`` keep weights, transform,
  the model's name and parameters and the task's name and parameters in one
  safetensors file (no pickle).

Training options that touch the model before training live here too:
``init_from`` loads matching weights of an earlier run (not when resuming:
the checkpoint has the weights), and ``augment`` is built with the fitted
standardisation so that augmentations work in raw units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from quanta.data.batching import DeviceData
from quanta.data.dataset import Dataset
from quanta.data.transforms import Standardize, TargetScaling
from quanta.errors import TrainingFailed, UserError
from quanta.models import DATA_ARGUMENTS, MODELS
from quanta.registry import parameters, validate_params
from quanta.rundir import MethodDirectory, is_writing_rank
from quanta.tasks import TASKS
from quanta.tasks.base import Task
from quanta.train.augment import AugmentPipeline, build_augmentations
from quanta.train.callbacks import Callback, Checkpoint, EarlyStopping, History
from quanta.train.checkpoint import load_checkpoint, save_checkpoint
from quanta.train.config import TrainConfig
from quanta.train.device import resolve_device
from quanta.train.distributed import rank_device
from quanta.train.loop import Trainer, TrainingInterrupted
from quanta.train.mc_dropout import dropout_layers
from quanta.train.progress import Progress
from quanta.train.transfer import MODEL_FILE, TransferReport, load_matching

# A network's own files in its method folder (beside the run directory's, quanta.rundir)
CHECKPOINT_FILE = "checkpoint.safetensors"
TRANSFER_FILE = "transfer.json"  # what init_from loaded, and what it left out


def build_model(name: str, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], out_features: int,
                where: str) -> torch.nn.Module:
    """Registered model ``name`` built for per-sample array ``shapes`` and ``out_features`` outputs."""
    cls = MODELS.get(name)
    checked = validate_params(cls, params, where, supplied=DATA_ARGUMENTS)
    return cls.for_data({k: tuple(v) for k, v in shapes.items()}, out_features, **checked)


class Network:
    """A model trained for a task, with the input transform fitted on its training split.

    Args:
        model: a built ``torch.nn.Module`` (its ``inputs`` attribute, if any, names
            the batch arrays its forward takes; default ``("x",)``).
        task: the task (``quanta.tasks``).
        config: training options.
        standardize: fit a :class:`Standardize` transform on the training inputs.
        spec: ``{"model": name, "params": {...}}`` for a registered model, so that
            :meth:`load` can rebuild it; None for a user module.
    """

    def __init__(self, model: torch.nn.Module, task: Task, config: TrainConfig | None = None,
                 standardize: bool = True, spec: dict[str, Any] | None = None):
        self.model = model
        self.task = task
        self.config = config or TrainConfig()
        self.standardize = standardize
        self.spec = spec
        self.inputs: tuple[str, ...] = tuple(getattr(model, "inputs", ("x",)))
        self.transform: Standardize | None = None
        self.target_scaling: TargetScaling | None = None  # regression targets, when the task scales them
        self.history: list[dict[str, Any]] = []
        self.device = rank_device(resolve_device(self.config.device))  # cuda:LOCAL_RANK under torchrun
        self.trainer: Trainer | None = None
        self.transfer_report: TransferReport | None = None

    # -- training ---------------------------------------------------------------
    def _device_data(self, data: Dataset, with_targets: bool = True) -> DeviceData:
        # targets: y, weights, masks and the extra target arrays the task declares (multi-task heads)
        targets = ("y", "weight", "target_mask", *self.task.target_arrays)
        names = tuple(dict.fromkeys(n for n in (*self.inputs, *targets)
                                    if n in data and (with_targets or n not in targets)))
        return data.loader(self.device, names)

    def fit(self, train: Dataset, valid: Dataset | None = None, directory: str | Path | None = None,
            callbacks: list[Callback] | None = None, resume: bool = False, label: str = "network",
            task: Task | None = None) -> Network:
        """Fit the transform on ``train``, then train; checkpoints go to ``directory``.

        With ``resume=True`` training continues from ``directory``'s checkpoint.
        ``task`` is the network's own (given at construction); it is accepted
        so that every estimator is fitted alike (``quanta.estimators``).
        """
        torch.manual_seed(self.config.seed)
        if self.config.mc_dropout and not dropout_layers(self.model):
            raise UserError(f"{label}.train.mc_dropout: {type(self.model).__name__} has no dropout "
                            "layer to keep on; give the model a dropout rate above 0 "
                            "(params.dropout) or set mc_dropout: 0")
        if self.standardize:
            self.transform = train.standardize()
        if self.task.scales_targets and self.config.standardize_targets and "y" in train:
            self.target_scaling = TargetScaling().fit(train.targets["y"])
        if getattr(self.model, "undoes_scalings", False):  # a model whose physics needs the raw units
            self.model.set_scalings(*_mean_and_scale(self.transform), *_mean_and_scale(self.target_scaling))
        train = self._prepared(train, with_targets=True)
        valid = self._prepared(valid, with_targets=True) if valid is not None and len(valid) else valid
        train_data = self._device_data(train)
        valid_data = self._device_data(valid) if valid is not None and len(valid) else None
        directory = Path(directory) if directory else None
        writer = is_writing_rank()  # under torchrun only rank 0 writes: folder, checkpoints, progress
        if directory is not None and writer:
            directory.mkdir(parents=True, exist_ok=True)
        folder = MethodDirectory(directory) if directory is not None else None
        hooks: list[Callback] = [History(folder)]
        if valid_data is not None:
            monitor = self.config.monitor
            hooks.append(EarlyStopping(self.config.patience, f"valid_{monitor}", self.task.goal(monitor)))
        if self.config.progress and writer:
            batches = -(-len(train) // self.config.batch_size)
            hooks.append(Progress(label, self.config.epochs, batches, self.config.batch_size, self.task.monitor))
        hooks.extend(callbacks or [])
        checkpoint = directory / CHECKPOINT_FILE if directory else None
        if checkpoint is not None and writer:  # last: it holds every callback's state after the epoch, a stop included
            hooks.append(Checkpoint(checkpoint))
        if self.config.init_from and not resume:
            self.transfer_report = load_matching(self.model, self.config.init_from)
            if directory is not None and writer:
                self.transfer_report.write(directory / TRANSFER_FILE)
            if self.config.progress:
                print(self.transfer_report.summary())
        self.trainer = Trainer(self.model, self.task, self.config, self.device, self.inputs, hooks,
                               extra_state=self._transform_tensors(), augment=self._augmentation(train))
        if resume:
            if checkpoint is None or not checkpoint.exists():
                raise UserError(f"{directory}: no checkpoint to resume from ({CHECKPOINT_FILE} is missing)")
            self.trainer.load_checkpoint(checkpoint)
        if folder is not None:  # the history file restarts from what the checkpoint holds
            folder.write_history(self.trainer.history)
        try:
            self.trainer.fit(train_data, valid_data)
        except TrainingInterrupted as stop:
            stop.checkpoint = checkpoint if checkpoint is not None and checkpoint.exists() else None
            raise
        except TrainingFailed as failed:  # a diverging loss, a task's own guard
            raise UserError(failed.describe(label)) from None
        self.history = self.trainer.history
        return self

    def _augmentation(self, train: Dataset) -> AugmentPipeline | None:
        """The training-batch augmentations, undoing and redoing the fitted standardisation."""
        if not self.config.augment:
            return None
        mean = scale = None
        if self.transform is not None:
            shape = [1] * (len(train.input_shape) + 1)
            shape[self.transform.axis_] = -1
            mean = torch.as_tensor(self.transform.mean_).reshape(shape).to(self.device)
            scale = torch.as_tensor(self.transform.scale_).reshape(shape).to(self.device)
        return AugmentPipeline(build_augmentations(self.config.augment), mean, scale)

    # -- prediction -------------------------------------------------------------
    def _prepared(self, data: Dataset, with_targets: bool = False) -> Dataset:
        return data.with_transform(self.transform, self.target_scaling if with_targets else None)

    def predict(self, data: Dataset, batch_size: int = 8192) -> np.ndarray:
        """Task scores for ``data`` (signal probability, class probabilities or values, in the targets' units)."""
        return self.predict_with_uncertainty(data, batch_size)[0]

    def predict_with_uncertainty(self, data: Dataset,
                                 batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray | None]:
        """Task scores and the standard deviation of each (None when the network gives none).

        The deviation is a Gaussian head's sigma (task regression with ``likelihood:
        gaussian``), the spread of ``mc_dropout`` passes, or with both the two
        added in quadrature (the law of total variance); with ``mc_dropout`` the
        scores are the passes' mean.
        """
        device_data = self._device_data(self._prepared(data), with_targets=False)
        if self.trainer is None:
            self.model.to(self.device)
            self.trainer = Trainer(self.model, self.task, self.config, self.device, self.inputs)
        if not self.config.mc_dropout:
            output = self.trainer.outputs(device_data, batch_size)
            return self._in_target_units(self.task.scores(output), self.task.uncertainty(output))
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the same passes at every prediction
            torch.manual_seed(self.config.seed)
            outputs = [self.trainer.outputs(device_data, batch_size, dropout=True)
                       for _ in range(self.config.mc_dropout)]
        passes = torch.stack([self.task.scores(output) for output in outputs])
        variance = passes.var(dim=0, unbiased=False)
        sigmas = [self.task.uncertainty(output) for output in outputs]
        if sigmas[0] is not None:
            variance = variance + torch.stack(sigmas).pow(2).mean(dim=0)
        return self._in_target_units(passes.mean(dim=0), variance.sqrt())

    @property
    def generates(self) -> bool:
        """Whether the model can draw new samples (it has ``sample``: a VAE, a GAN)."""
        return callable(getattr(self.model, "sample", None))

    @property
    def conditions(self) -> tuple[str, ...]:
        """The data-set arrays a conditional generative model is conditioned on (e.g. ``energy``)."""
        return tuple(getattr(self.model, "conditions", ()))

    def sample(self, n: int, condition: dict[str, Any] | None = None, seed: int = 0,
               batch_size: int = 8192) -> np.ndarray:
        """``n`` new samples of the inputs ``x``, in the inputs' own units (the standardisation undone).

        The model draws them in the units it was trained in (its
        ``sample(n, condition, generator)``); ``condition`` gives each of the
        model's :attr:`conditions` as one value or ``n`` values (raw units,
        as in the data). The same ``seed`` gives the same samples.
        """
        if not self.generates:
            raise UserError(f"{type(self.model).__name__} does not generate samples; sampling needs a "
                            "generative model (vae, gan)")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise UserError(f"sample: n must be an integer >= 1, received {n!r}")
        values = _condition_tensors(self.conditions, condition or {}, int(n), self.device)
        generator = torch.Generator(self.device).manual_seed(int(seed))
        self.model.to(self.device).eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, int(n), batch_size):
                count = min(batch_size, int(n) - start)
                part = {k: v[start:start + count] for k, v in values.items()} or None
                chunks.append(self.model.sample(count, part, generator).float().cpu())
        samples = torch.cat(chunks).numpy()
        return self.transform.invert_arrays(samples) if self.transform is not None else samples

    def _in_target_units(self, scores: torch.Tensor,
                         sigma: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray | None]:
        scores_, sigma_ = scores.cpu().numpy(), None if sigma is None else sigma.cpu().numpy()
        if self.target_scaling is None:
            return scores_, sigma_
        return (self.target_scaling.invert(scores_),
                None if sigma_ is None else self.target_scaling.invert_spread(sigma_))

    # -- persistence ------------------------------------------------------------
    def _transform_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {}
        if self.transform is not None:
            tensors.update({f"transform.{k}": torch.as_tensor(v) for k, v in self.transform.state().items()})
        if self.target_scaling is not None:
            tensors.update({f"targets.{k}": torch.as_tensor(v) for k, v in self.target_scaling.state().items()})
        return tensors

    def save(self, directory: str | Path) -> Path:
        """Write weights, transform and spec to ``directory/model.safetensors``."""
        path = Path(directory) / MODEL_FILE
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        broken = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if broken:  # a file of NaN weights would score every sample as NaN later
            raise UserError(f"{path}: not saved, {len(broken)} weight tensors hold NaN or Inf ({broken[0][6:]}, ...)")
        tensors.update(self._transform_tensors())
        task_params = {name: getattr(self.task, name) for name in parameters(type(self.task))}
        meta = {"spec": self.spec, "task": self.task.name, "task_params": task_params, "inputs": list(self.inputs),
                "standardize": self.transform is not None, "config": self.config.to_dict()}
        save_checkpoint(path, tensors, meta)
        return path

    @classmethod
    def load(cls, directory: str | Path, model: torch.nn.Module | None = None, device: str = "auto") -> Network:
        """Rebuild a saved network; ``model`` is needed only for a user (unregistered) module."""
        path = Path(directory) / MODEL_FILE
        tensors, meta = load_checkpoint(path)
        spec = meta["spec"]
        if model is None:
            if spec is None:
                raise UserError(f"{path}: the network is a user module; pass model= to load it")
            model = build_model(spec["model"], spec["params"], spec["shapes"],
                                spec["out_features"], where=str(path))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        config = TrainConfig(**{**meta["config"], "device": device, "progress": False})
        task = TASKS.create(meta["task"], where=f"{path} task", **meta.get("task_params", {}))
        network = cls(model, task, config, meta["standardize"], spec)
        transform = {k[10:]: v.numpy() for k, v in tensors.items() if k.startswith("transform.")}
        network.transform = Standardize.from_state(transform) if transform else None
        targets = {k[8:]: v.numpy() for k, v in tensors.items() if k.startswith("targets.")}
        network.target_scaling = TargetScaling.from_state(targets) if targets else None
        return network


def describe(network: Network) -> str:
    """One line: the model's class and its number of trainable parameters."""
    count = sum(p.numel() for p in network.model.parameters() if p.requires_grad)
    return f"{type(network.model).__name__} with {count:,} trainable parameters"


def _condition_tensors(names: tuple[str, ...], condition: dict[str, Any], n: int,
                       device: torch.device) -> dict[str, torch.Tensor]:
    """Each condition as ``n`` float32 values on ``device``, or a one-line error naming it."""
    unknown = sorted(set(condition) - set(names))
    if unknown:
        allowed = ", ".join(names) if names else "none (the model is not conditional)"
        raise UserError(f"sample: condition '{unknown[0]}' is not one the model was trained on; allowed: {allowed}")
    missing = [name for name in names if name not in condition]
    if missing:
        raise UserError(f"sample: the model is conditioned on {', '.join(names)}; give {missing[0]} "
                        f"(e.g. condition={{'{missing[0]}': 50.0}})")
    tensors = {}
    for name in names:
        try:
            values = np.asarray(condition[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise UserError(f"sample: condition {name} must be numbers, received {condition[name]!r}") from None
        if values.ndim == 0:
            values = np.full(n, values, dtype=np.float32)
        if values.shape[:1] != (n,) or not np.all(np.isfinite(values)):
            raise UserError(f"sample: condition {name} must be one finite value or {n} of them, "
                            f"received shape {values.shape}")
        tensors[name] = torch.as_tensor(values, device=device)
    return tensors


def _mean_and_scale(scaling: Standardize | TargetScaling | None) -> tuple:
    """``(mean, scale)`` of a fitted scaling, ``(None, None)`` where there is none."""
    return (None, None) if scaling is None else (scaling.mean_, scaling.scale_)
