"""Callbacks: a flat set of no-op hooks the training loop calls.

Order of calls during :meth:`Trainer.fit`::

    on_fit_start
    for each epoch: on_epoch_start, on_batch_end (every batch), on_epoch_end
    on_fit_end                      (also after early stopping; not after Ctrl-C)

A pre-emption signal (SIGTERM, SIGUSR1: :mod:`quanta.train.preemption`) stops
training after an optimiser step: ``on_preempt`` is called instead of the
rest of the epoch (``trainer.position`` says where it stopped), then the
trainer raises ``TrainingPreempted``; ``on_fit_end`` is not called.

Within one hook, callbacks run in the order given to the trainer; the trainer
puts its own in this order: history, early stopping, checkpoint, progress, so
that a checkpoint holds the early-stopping state of the same epoch. A callback
with state that must survive a resume implements ``state``/``load_state``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from quanta.rundir import MethodDirectory
    from quanta.train.loop import Trainer


class Callback:
    """Base class: every hook does nothing."""

    #: key under which ``state()`` is stored in a checkpoint (None: nothing to store)
    state_key: str | None = None

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer: Trainer, batch: int) -> None: ...
    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None: ...
    def on_fit_end(self, trainer: Trainer) -> None: ...
    def on_preempt(self, trainer: Trainer) -> None: ...

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None: ...


class History(Callback):
    """Appends each epoch's logs to the method folder's ``history.jsonl`` (one JSON object per line)."""

    def __init__(self, folder: MethodDirectory | None):
        self.folder = folder

    def on_epoch_end(self, trainer, epoch, logs):
        if self.folder is not None:
            self.folder.append_history(logs)


class EarlyStopping(Callback):
    """Stops when the monitored validation metric has not improved for ``patience`` epochs.

    ``goal`` is "min" (the loss, the default) or "max" (an AUC, an accuracy).
    At the end of training the weights of the best epoch are restored.
    """

    state_key = "early_stopping"

    def __init__(self, patience: int, monitor: str = "valid_loss", goal: str = "min"):
        self.patience = patience
        self.monitor = monitor
        self.sign = -1.0 if goal == "max" else 1.0  # compare sign * value: smaller is better
        self.best = float("inf")
        self.best_epoch = 0
        self.wait = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs.get(self.monitor)
        if value is None:
            metrics = [k[len("valid_"):] for k in logs if k.startswith("valid_")]
            if metrics:  # validation ran, but does not give the monitored metric
                from quanta.errors import UserError

                raise UserError(f"train.monitor: '{self.monitor[len('valid_'):]}' is not a validation metric "
                                f"of this task; allowed: {', '.join(metrics)}")
            return
        value = self.sign * value
        if value < self.best:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.patience > 0 and self.wait >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer):
        if self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            trainer.best_epoch = self.best_epoch

    def state(self):
        tensors = {f"best.{k}": v for k, v in (self.best_weights or {}).items()}
        return tensors, {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state(self, tensors, meta):
        self.best, self.best_epoch, self.wait = meta["best"], meta["best_epoch"], meta["wait"]
        weights = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_weights = weights or None


class Checkpoint(Callback):
    """Writes the trainer's full state to ``path`` at the end of every epoch, and where a
    pre-emption stops it inside one (the place in the epoch included)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, epoch, logs):
        trainer.save_checkpoint(self.path)

    def on_preempt(self, trainer):
        trainer.save_checkpoint(self.path)


class StopAfter(Callback):
    """Raises KeyboardInterrupt after ``epoch`` epochs of a network, as a Ctrl-C would (tests, demos).

    It strikes as the next epoch starts, after every callback (the checkpoint
    included) has finished with epoch ``epoch``. The rounds of a classical
    method (boosted trees) are not counted: it is a network's training, with
    its checkpoint, that this interrupts.
    """

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_start(self, trainer, epoch):
        from quanta.train.loop import Trainer

        if isinstance(trainer, Trainer) and epoch > self.epoch:
            raise KeyboardInterrupt
