"""Regression of real-valued targets: one or several per sample, or per element."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import Task, reduce
from quanta.tasks.evaluation import REGRESSION

#: the smallest predicted variance of the Gaussian head (in the scaled targets' units)
MIN_VARIANCE = 1e-6


class Regression(Task):
    """Regression of one or more real targets: mean squared error, or a Gaussian likelihood

    Targets ``y[N]`` (one value), ``y[N, T]`` (T values) or any per-element
    layout such as images ``y[N, C, H, W]`` (U-Net outputs); the model emits
    outputs of the same shape (``[N, 1]`` for ``y[N]``). The loss and the
    validation metric are the mean squared error over all (unmasked) elements.

    With ``likelihood: gaussian`` the network predicts a mean and a variance
    for every target (a heteroscedastic head, Nix & Weigend 1994): twice the
    outputs, the second half giving the variance through a softplus, and the
    loss is the Gaussian negative log-likelihood
    ``(log 2 pi sigma^2 + (y - mu)^2 / sigma^2) / 2``. A sample the network
    cannot predict well is then given a large sigma instead of pulling the
    mean; the saved predictions carry sigma as their uncertainty, and the
    report shows the coverage of the intervals mu ± z sigma. Classical
    methods predict the mean only.

    Args:
        likelihood: ``none`` (mean squared error) or ``gaussian`` (mean and variance).
    """

    name = "regression"
    evaluation = REGRESSION
    monitor = "mse"
    higher_is_better = False
    scales_targets = True  # outputs of O(1) learn targets of O(100) GeV as fast as of O(1)

    def __init__(self, likelihood: Literal["none", "gaussian"] = "none") -> None:
        super().__init__()
        self.likelihood = likelihood

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.dtype.kind not in "biuf":
            raise UserError(f"{where}: task 'regression' needs numeric targets, received dtype {y.dtype}")
        return y.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        values = 1 if y.ndim == 1 else y.shape[1]
        return 2 * values if self.likelihood == "gaussian" else values

    def _mean_and_variance(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The predicted means and (Gaussian head) variances, each of the targets' layout."""
        output = output.float()
        if self.likelihood != "gaussian":
            return output, None
        mean, raw = output.chunk(2, dim=1)
        return mean, F.softplus(raw) + MIN_VARIANCE

    def loss(self, output, target, weight=None, mask=None):
        mean, variance = self._mean_and_variance(output)
        mean = mean.reshape(target.shape)
        if variance is None:
            return reduce((mean - target).pow(2), weight, mask)
        variance = variance.reshape(target.shape)
        nll = 0.5 * (torch.log(variance) + (mean - target).pow(2) / variance + math.log(2 * math.pi))
        return reduce(nll, weight, mask)

    def _like_scores(self, values: torch.Tensor) -> torch.Tensor:
        return values.reshape(-1) if values.ndim == 2 and values.shape[1] == 1 else values

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return self._like_scores(self._mean_and_variance(output)[0])

    def uncertainty(self, output: torch.Tensor) -> torch.Tensor | None:
        variance = self._mean_and_variance(output)[1]
        return None if variance is None else self._like_scores(variance.sqrt())

    def metrics(self, output, target, weight=None, mask=None):
        mean = self._mean_and_variance(output)[0]
        mse = reduce((mean.reshape(target.shape) - target).pow(2), weight, mask).detach()
        if self.likelihood != "gaussian":
            return {"loss": mse, "mse": mse}
        return {"loss": self.loss(output, target, weight, mask).detach(), "mse": mse}
