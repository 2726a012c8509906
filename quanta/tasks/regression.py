"""Regression of real-valued targets: one or several per sample, or per element."""

from __future__ import annotations

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.base import Task, reduce
from quanta.tasks.evaluation import REGRESSION


class Regression(Task):
    """Regression of one or more real targets: mean squared error loss

    Targets ``y[N]`` (one value), ``y[N, T]`` (T values) or any per-element
    layout such as images ``y[N, C, H, W]`` (U-Net outputs); the model emits
    outputs of the same shape (``[N, 1]`` for ``y[N]``). The loss and the
    validation metric are the mean squared error over all (unmasked) elements.
    """

    name = "regression"
    evaluation = REGRESSION
    monitor = "mse"
    higher_is_better = False
    scales_targets = True  # outputs of O(1) learn targets of O(100) GeV as fast as of O(1)

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.dtype.kind not in "biuf":
            raise UserError(f"{where}: task 'regression' needs numeric targets, received dtype {y.dtype}")
        return y.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def loss(self, output, target, weight=None, mask=None):
        squared = (output.float().reshape(target.shape) - target).pow(2)
        return reduce(squared, weight, mask)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        output = output.float()
        return output.reshape(-1) if output.ndim == 2 and output.shape[1] == 1 else output

    def metrics(self, output, target, weight=None, mask=None):
        mse = self.loss(output, target, weight, mask).detach()
        return {"loss": mse, "mse": mse}
