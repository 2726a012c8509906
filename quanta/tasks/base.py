"""The task contract: what a trainer and an experiment ask of a task.

A task turns model outputs into a loss (training), scores (predictions saved
and evaluated) and validation metrics computed on the device. Subclasses
override :meth:`check_targets`, :meth:`out_features`, :meth:`loss`,
:meth:`scores` and :meth:`metrics`; tasks with several networks (GANs) will
override :meth:`training_loss` and friends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quanta.errors import UserError


class Task:
    """Base class of tasks; subclasses set ``name`` and ``monitor``."""

    name = "task"
    #: validation metric shown in progress and history, and whether higher is better
    monitor: str = "loss"
    higher_is_better: bool = False

    def __init__(self) -> None:
        """Built-in tasks take no parameters; a subclass may add keyword ones with defaults."""

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        """Validate targets and return them in the dtype the loss wants."""
        raise NotImplementedError

    def out_features(self, y: np.ndarray) -> int:
        """Number of model outputs this task needs for targets ``y``."""
        raise NotImplementedError

    # -- training --------------------------------------------------------------
    def loss(self, output: torch.Tensor, target: torch.Tensor,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """Mean (optionally weighted) loss of a batch."""
        raise NotImplementedError

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                      inputs: tuple[str, ...]) -> torch.Tensor:
        """The loss of one training batch; the trainer backpropagates it."""
        output = model(*(batch[name] for name in inputs))
        return self.loss(output, batch["y"], batch.get("weight"))

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Model outputs -> the scores saved as predictions (probabilities, values)."""
        raise NotImplementedError

    def metrics(self, output: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Validation metrics as 0-d tensors on the device (read once per epoch)."""
        return {"loss": self.loss(output, target, weight).detach()}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "monitor": self.monitor}


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample values, weighted when ``weight`` is given."""
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum()


def require_integer_labels(y: np.ndarray, where: str, allowed: str) -> np.ndarray:
    """Integer class labels from ``y`` or a one-line error naming what is allowed."""
    if y.ndim != 1:
        raise UserError(f"{where}: labels must be one value per sample, received shape {y.shape}; allowed: {allowed}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise UserError(f"{where}: labels must be whole numbers ({allowed}), received non-integer values")
    elif y.dtype.kind not in "biu":
        raise UserError(f"{where}: labels must be integers ({allowed}), received dtype {y.dtype}")
    return y.astype(np.int64)
