"""A readout's zero suppression for generated samples: cells below a threshold read 0.

A calorimeter's readout suppresses every cell whose signal falls below a
threshold (the ``calorimeter`` source: 0.5 MIP = 0.017 GeV), so simulated
showers hold exact zeros and no signal between 0 and the threshold. A
generator that has not learnt this exactly is told apart by any classifier
from the small positive values alone; generative calorimeter models apply the
readout's threshold to what they generate (as the CaloChallenge's entries
do). :class:`ZeroSuppression` does it in the data's own units for a model
that sees standardised inputs: it keeps the fitted standardisation per input
element (``set_scalings``, called by ``Network.fit`` for models that declare
``undoes_scalings``).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def per_element(values, input_shape: tuple[int, ...]) -> np.ndarray:
    """A standardisation's per-channel (images) or per-feature (tables, sets) values spread over
    every input element of one sample: ``[prod(input_shape)]``, float32."""
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    axis = 0 if len(input_shape) >= 3 else len(input_shape) - 1
    shape = [1] * len(input_shape)
    shape[axis] = -1
    return np.broadcast_to(values.reshape(shape), input_shape).reshape(-1).copy()


class ZeroSuppression(torch.nn.Module):
    """Generated values below ``threshold`` (the data's units) set to 0; None: nothing suppressed.

    Holds ``input_mean`` and ``input_scale`` ``[D]`` (identity until
    :meth:`set_scalings`), saved with the model's weights.
    """

    def __init__(self, input_shape: tuple[int, ...], threshold: float | None) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.threshold = threshold
        features = math.prod(self.input_shape)
        self.register_buffer("input_mean", torch.zeros(features))
        self.register_buffer("input_scale", torch.ones(features))

    def set_scalings(self, input_mean=None, input_scale=None) -> None:
        """The fitted standardisation of ``x`` (None where the inputs are not standardised)."""
        for buffer, values in ((self.input_mean, input_mean), (self.input_scale, input_scale)):
            if values is not None:
                buffer.copy_(torch.from_numpy(per_element(values, self.input_shape)))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised ``x [N, *input_shape]`` in the data's units, flattened ``[N, D]``."""
        return x.reshape(x.shape[0], -1) * self.input_scale + self.input_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, *input_shape]`` (standardised) with the cells below the threshold at 0 (raw units)."""
        if self.threshold is None:
            return x
        raw = self.raw(x)
        raw = torch.where(raw < self.threshold, torch.zeros_like(raw), raw)
        return ((raw - self.input_mean) / self.input_scale).reshape(x.shape)


__all__ = ["ZeroSuppression", "per_element"]
