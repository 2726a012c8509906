"""Regression of one or more real-valued targets."""

from __future__ import annotations

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.base import Task, weighted_mean


class Regression(Task):
    """Regression of one or more real targets: mean squared error loss

    The model emits T values per sample for targets y of shape [N] or [N, T];
    the loss and the validation metric are the mean squared error.
    """

    name = "regression"
    monitor = "mse"
    higher_is_better = False

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.dtype.kind not in "biuf":
            raise UserError(f"{where}: task 'regression' needs numeric targets, received dtype {y.dtype}")
        if y.ndim not in (1, 2):
            raise UserError(f"{where}: regression targets must have shape [N] or [N, T], received {y.shape}")
        return y.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def loss(self, output, target, weight=None):
        output = output.float().reshape(target.shape)
        per_sample = (output - target).pow(2)
        if per_sample.ndim > 1:
            per_sample = per_sample.mean(dim=tuple(range(1, per_sample.ndim)))
        return weighted_mean(per_sample, weight)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        output = output.float()
        return output.reshape(-1) if output.ndim == 2 and output.shape[1] == 1 else output

    def metrics(self, output, target, weight=None):
        mse = self.loss(output, target, weight).detach()
        return {"loss": mse, "mse": mse}
