"""The training loop: one loop for every task.

Each epoch draws a permutation from a generator seeded by (seed, epoch), so
the batch order does not depend on what ran before; dropout draws from
torch's global RNG, whose state is saved in every checkpoint. Together with
the optimiser and callback states this makes a resumed run continue
bit-for-bit (on the same device and PyTorch build). Learning-rate schedules
are closed-form functions of (epoch, step) and augmentations draw from a
device generator seeded by (seed, epoch), so neither has hidden state.

One training step, in order: augment the batch (training only), set the
learning rates (per-step schedules only), then the task's
:meth:`~quanta.tasks.base.Task.training_step` on the training state
(:mod:`quanta.train.state`): by default forward and task loss, add the weight
penalty (``l1``/``l2``), backward, clip, optimiser step. A task with several
optimisers steps each of them there; every optimiser of the state follows the
one schedule and is checkpointed. A task whose ``augments_views`` is true
(contrastive learning: two augmented views of each sample) gets the batch
un-augmented and draws its views with ``state.augment(batch)``, the epoch's
pipeline on its seeded generator (None without ``augment``).

The hot loop does no device sync: the training loss is summed on the device
and read once per epoch, with the validation metrics.

Pre-emption (:mod:`quanta.train.preemption`): after every optimiser step the
loop reads a Python flag that a SIGTERM or SIGUSR1 handler sets (no device
work; in a distributed run the ranks agree on it every few steps, so all stop
after the same step). When it is up, the checkpoint callbacks write the place inside the
epoch (:attr:`Trainer.position`: the epoch, the batches done, the running loss
sum, the augmentation generator's state) beside everything an end-of-epoch
checkpoint holds, and :class:`TrainingPreempted` is raised. Loading that
checkpoint resumes inside the epoch: the permutation is drawn again from
(seed, epoch), the batches done are skipped, and the rest of the run is the
uninterrupted one, bit for bit.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import torch

from quanta.data.batching import DeviceData
from quanta.errors import TrainingFailed
from quanta.tasks.base import Task
from quanta.train import preemption
from quanta.train.augment import AugmentPipeline, build_augmentations
from quanta.train.callbacks import Callback
from quanta.train.checkpoint import (
    capture_rng,
    flatten_state,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
    unflatten_state,
)
from quanta.train.config import TrainConfig
from quanta.train.distributed import (
    AGREE_EVERY,
    agreed,
    averaged,
    broadcast_module,
    from_rank_zero,
    world,
)
from quanta.train.mc_dropout import dropout_layers
from quanta.train.optim import build_schedule
from quanta.train.schedules import LearningRateSchedule
from quanta.train.state import TrainingState


class TrainingDiverged(TrainingFailed):
    """The training loss became NaN or infinite: the weights are lost, the last checkpoint is kept."""

    def __init__(self, epoch: int, loss: float, lr: float):
        self.epoch, self.loss, self.lr = epoch, loss, lr
        super().__init__(self.describe("training"))

    def describe(self, label: str) -> str:
        return (f"{label}: training diverged in epoch {self.epoch} (the training loss is {self.loss}); "
                f"try a smaller lr (it was {self.lr:.3g}), clip_grad_norm, or check the inputs for extreme values")


class TrainingInterrupted(Exception):
    """Training was stopped by Ctrl-C; the last epoch's checkpoint is on disk."""

    def __init__(self, epoch: int, checkpoint: Path | None):
        super().__init__(f"training interrupted after epoch {epoch}")
        self.epoch = epoch
        self.checkpoint = checkpoint


class TrainingPreempted(TrainingInterrupted, preemption.Preempted):
    """A pre-emption signal stopped training; the checkpoint holds the place inside the epoch.

    ``epoch`` epochs were complete and ``batches`` of the next one's ``of`` were done (0: the
    stop came at an epoch's end). ``checkpoint`` is set by whoever knows its path (``Network.fit``).
    """

    def __init__(self, epoch: int, signal_name: str, batches: int = 0, of: int = 0):
        super().__init__(epoch, None)
        self.signal, self.batches, self.of, self.run_dir = signal_name, batches, of, None
        where = f"in epoch {epoch + 1} after batch {batches} of {of}" if batches else f"after epoch {epoch}"
        self.args = (f"training pre-empted by {signal_name} {where}",)


class Trainer:
    """Trains ``model`` for ``task`` with the options of ``config``.

    Args:
        model: any ``torch.nn.Module``; it is moved to the configured device.
        task: the task that owns loss, scores and validation metrics.
        config: training options.
        device: the resolved device.
        inputs: names of the batch arrays passed to ``model.forward``, in order.
        callbacks: hooks, called in the given order (see ``callbacks.py``).
        extra_state: tensors saved into every checkpoint unchanged (fitted transforms).
        augment: the training-batch augmentation pipeline; by default one built from
            ``config.augment`` without a standardisation to undo.

    A task that reads target arrays other than ``y`` lists them in its
    ``target_arrays`` attribute; its ``metrics`` then receives the targets as
    a dict ``{name: tensor}`` instead of the tensor ``y``.
    """

    def __init__(self, model: torch.nn.Module, task: Task, config: TrainConfig, device: torch.device,
                 inputs: tuple[str, ...] = ("x",), callbacks: list[Callback] | None = None,
                 extra_state: dict[str, torch.Tensor] | None = None, augment: AugmentPipeline | None = None):
        self.model = model.to(device)
        self.task = task
        self.config = config
        self.device = device
        self.inputs = inputs
        self.callbacks = list(callbacks or [])
        self.extra_state = extra_state or {}
        self.target_arrays: tuple[str, ...] = tuple(task.target_arrays)
        self.state = TrainingState(self.model, task.optimised_parts(self.model), config, device)
        self.schedule: LearningRateSchedule | None = None  # built in fit(), when the batch count is known
        if augment is None and config.augment:
            augment = AugmentPipeline(build_augmentations(config.augment))
        self.augment = augment
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps taken
        self.history: list[dict[str, Any]] = []
        self.should_stop = False
        self.best_epoch: int | None = None
        #: where a pre-emption stopped inside an epoch (saved in the checkpoint; None at an epoch's end)
        self.position: dict[str, Any] | None = None

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimiser of a one-network task (the first of the state's optimisers)."""
        return next(iter(self.state.optimizers.values()))

    @property
    def frozen(self) -> list[str]:
        return self.state.frozen

    # -- the loop ----------------------------------------------------------------
    def fit(self, train: DeviceData, valid: DeviceData | None = None) -> Trainer:
        """Train until ``config.epochs`` or early stopping; returns self."""
        config, state = self.config, self.state
        task, inputs, callbacks, augment = self.task, self.inputs, self.callbacks, self.augment
        self.schedule = schedule = build_schedule(config, -(-len(train) // config.batch_size))
        per_step = schedule is not None and schedule.per_step
        batches_per_epoch = -(-len(train) // config.batch_size)
        agree = world().distributed  # a collective per step only where there are several ranks
        for callback in callbacks:
            callback.on_fit_start(self)
        try:
            with preemption.deferred():  # a signal only raises the flag read after each step
                for epoch in range(self.epoch + 1, config.epochs + 1):
                    if self.should_stop:
                        break
                    for callback in callbacks:
                        callback.on_epoch_start(self, epoch)
                    self.model.train()
                    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
                    augment_generator = None
                    if augment is not None:
                        augment_generator = torch.Generator(self.device).manual_seed(config.seed * 100_003 + epoch + 7)
                    if schedule is not None:
                        epoch_factor = schedule.epoch_factor(epoch - 1)
                        state.set_learning_rates(epoch_factor)
                    loss_sum = torch.zeros((), device=self.device)
                    batches, earlier = 0, 0.0
                    position, self.position = self.position, None
                    if position is not None:  # inside the epoch a pre-emption stopped: skip the batches done
                        batches, earlier = position["batches"], position["seconds"]
                        loss_sum = position["loss_sum"].to(self.device)
                        if augment_generator is not None:
                            augment_generator.set_state(position["augment"])
                    start = time.perf_counter()
                    # a task that draws its own views (contrastive learning) augments in its step
                    views = getattr(task, "augments_views", False)
                    state.augment = (None if augment_generator is None
                                     else partial(augment, generator=augment_generator))
                    for batch in islice(train.batches(config.batch_size, generator), batches, None):
                        if augment_generator is not None and not views:
                            batch = augment(batch, augment_generator)
                        if per_step:  # a few float operations per step, no device work
                            state.set_learning_rates(epoch_factor * schedule.step_factor(self.step + batches))
                        loss_sum += task.training_step(state, batch, inputs)
                        for callback in callbacks:
                            callback.on_batch_end(self, batches)
                        batches += 1
                        if self._preempted(agree, batches):  # a Python flag: no device sync
                            # the ranks' mean loss sum: each rank resumes from it, and the epoch's
                            # mean over ranks is unchanged (exactly so for one process)
                            self.position = {"epoch": epoch, "batches": batches, "loss_sum": averaged(loss_sum),
                                             "seconds": earlier + time.perf_counter() - start,
                                             "augment": None if augment_generator is None
                                             else augment_generator.get_state()}
                            for callback in callbacks:
                                callback.on_preempt(self)
                            raise TrainingPreempted(self.epoch, preemption.requested(), batches,
                                                    batches_per_epoch)
                    self.step += batches
                    train_loss = averaged(loss_sum / max(batches, 1)).item()  # the epoch's one sync (mean over ranks)
                    if not math.isfinite(train_loss):  # before any callback can checkpoint non-finite weights
                        raise TrainingDiverged(epoch, train_loss, state.lr)
                    seconds = earlier + time.perf_counter() - start
                    logs: dict[str, Any] = {
                        "epoch": epoch,
                        "train_loss": train_loss,
                        "lr": state.lr,
                        "train_seconds": seconds,
                        "samples_per_second": len(train) / max(seconds, 1e-12),
                    }
                    if valid is not None and len(valid) > 0:
                        logs.update({f"valid_{k}": v for k, v in self.evaluate(valid).items()})
                    self.epoch = epoch
                    self.history.append(logs)
                    for callback in callbacks:
                        callback.on_epoch_end(self, epoch, logs)
                    if self._preempted(agree):  # the end-of-epoch checkpoint is written
                        raise TrainingPreempted(self.epoch, preemption.requested(), 0, batches_per_epoch)
        except KeyboardInterrupt:
            raise TrainingInterrupted(self.epoch, None) from None
        for callback in callbacks:
            callback.on_fit_end(self)
        return self

    @staticmethod
    def _preempted(agree: bool, batches: int | None = None) -> bool:
        """Whether a pre-emption signal came (on any rank, when ``agree``); if so, stop from here on.

        Ranks agree (one collective) every :data:`~quanta.train.distributed.AGREE_EVERY` batches
        of an epoch and at its end, so that all stop after the same step; a collective per step
        would cost a 2-rank CPU job a third of its rate.
        """
        stop = preemption.requested() is not None
        if agree:
            if batches is not None and batches % AGREE_EVERY:
                return False
            stop = agreed(stop)
        if stop:
            preemption.stopping()  # a second signal while the checkpoint is written only is recorded
        return stop

    @torch.no_grad()
    def outputs(self, data: DeviceData, batch_size: int = 8192,
                keep: tuple[str, ...] = (),
                dropout: bool = False) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Model outputs for every sample of ``data``, in order, on the device.

        With ``keep``, also the batches' arrays of those names, concatenated alike.
        With ``dropout``, the dropout layers stay on: one Monte Carlo dropout pass.
        """
        self.model.eval()
        for layer in dropout_layers(self.model) if dropout else ():
            layer.train()
        chunks, kept = [], {name: [] for name in keep}
        for batch in data.in_order(batch_size):
            with self.state.autocast():
                chunks.append(self.task.forward(self.state.evaluated, batch, self.inputs).float())
            for name, parts in kept.items():
                if name in batch:
                    parts.append(batch[name])
        output = torch.cat(chunks)
        if dropout:  # the dropout layers off again
            self.model.eval()
        if not keep:
            return output
        return output, {name: torch.cat(parts) for name, parts in kept.items() if parts}

    def evaluate(self, data: DeviceData) -> dict[str, float]:
        """The task's metrics on ``data`` (one device sync).

        Under torchrun every rank evaluates the whole of ``data`` with rank 0's buffers (the
        parameters are equal already) and takes rank 0's metrics, so that every rank makes the
        same early-stopping decision (:mod:`quanta.train.distributed`).
        """
        broadcast_module(self.model, parameters=False)
        names = (*(self.target_arrays or ("y",)), "weight", "target_mask")
        output, tensors = self.outputs(data, keep=names)
        target = ({name: tensors[name] for name in self.target_arrays} if self.target_arrays
                  else tensors.get("y"))  # None: an unsupervised task on data without labels
        metrics = self.task.metrics(output, target, tensors.get("weight"), tensors.get("target_mask"))
        values = from_rank_zero(torch.stack([v.float() for v in metrics.values()]).tolist())
        return dict(zip(metrics, values, strict=True))

    # -- checkpoints -----------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        """Write everything needed to continue bit-for-bit to ``path`` (atomically)."""
        tensors: dict[str, torch.Tensor] = {}
        tensors.update({f"model.{k}": v for k, v in self.model.state_dict().items()})
        optim_skeleton = {}
        for name, optimizer in self.state.optimizers.items():
            optim_tensors, optim_skeleton[name] = flatten_state(optimizer.state_dict(), f"optimizer.{name}")
            tensors.update(optim_tensors)
        rng_tensors, rng_meta = capture_rng()
        tensors.update({f"rng.{k}": v for k, v in rng_tensors.items()})
        tensors.update({f"extra.{k}": v for k, v in self.extra_state.items()})
        callback_meta = {}
        for callback in self.callbacks:
            if callback.state_key:
                c_tensors, c_meta = callback.state()
                tensors.update({f"{callback.state_key}.{k}": v for k, v in c_tensors.items()})
                callback_meta[callback.state_key] = c_meta
        position = None
        if self.position is not None:  # stopped inside an epoch by a pre-emption
            position = {k: self.position[k] for k in ("epoch", "batches", "seconds")}
            tensors["position.loss_sum"] = self.position["loss_sum"]
            if self.position["augment"] is not None:
                tensors["position.augment"] = self.position["augment"]
        meta = {
            "epoch": self.epoch,
            "position": position,  # None: at the end of epoch ``epoch``
            "step": self.step,
            "should_stop": self.should_stop,  # early stopping fired: a resume trains no further
            "history": self.history,
            "optimizer": optim_skeleton,
            "schedule": None if self.schedule is None else asdict(self.schedule),  # a record: (epoch, step) is its state
            "rng": rng_meta,
            "callbacks": callback_meta,
            "config": self.config.to_dict(),
        }
        save_checkpoint(path, {k: v.detach().contiguous() for k, v in tensors.items()}, meta)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore the state written by :meth:`save_checkpoint`."""
        tensors, meta = load_checkpoint(path)

        def part(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}

        self.model.load_state_dict(part("model"))
        for name, optimizer in self.state.optimizers.items():
            optimizer.load_state_dict(unflatten_state(tensors, meta["optimizer"][name], f"optimizer.{name}"))
        for callback in self.callbacks:
            if callback.state_key and callback.state_key in meta["callbacks"]:
                callback.load_state(part(callback.state_key), meta["callbacks"][callback.state_key])
        restore_rng(part("rng"), meta["rng"])
        self.epoch, self.step, self.history = meta["epoch"], meta["step"], meta["history"]
        self.should_stop = bool(meta["should_stop"])
        position = meta.get("position")  # absent in checkpoints from before pre-emption
        self.position = None if position is None else {
            **position, "loss_sum": tensors["position.loss_sum"], "augment": tensors.get("position.augment")}
