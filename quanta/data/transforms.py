"""Input transforms fitted on the training split only and saved with the model.

:class:`Standardize` shifts and scales each input channel to zero mean and unit
variance. Which axis is a channel follows the input's layout:

- tables ``x[N, F]``: each column F;
- sets and sequences ``x[N, P, C]``: each feature C, over the unmasked entries
  (padding stays zero);
- images ``x[N, C, H, W]`` (and volumes): each channel C.
"""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset
from quanta.errors import UserError


class Standardize:
    """Zero-mean, unit-variance inputs, with statistics from the training split."""

    def __init__(self, epsilon: float = 1e-8):
        self.epsilon = epsilon

    @staticmethod
    def _channel_axis(x: np.ndarray) -> int:
        return 1 if x.ndim >= 4 else x.ndim - 1

    def fit(self, data: Dataset) -> Standardize:
        x = data.x.astype(np.float64)
        axis = self._channel_axis(x)
        moved = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
        if "mask" in data and x.ndim == 3:
            moved = x[data["mask"]]
        if len(moved) == 0:
            raise UserError(f"{data.name}: cannot standardise inputs: no samples in the training split")
        self.mean_ = moved.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(moved.std(axis=0), self.epsilon).astype(np.float32)
        self.axis_ = axis
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardize is not fitted yet: call fit first")

    def apply(self, data: Dataset) -> Dataset:
        """The same data with standardised ``x`` (a new Dataset; input untouched)."""
        return data.with_arrays(x=self.apply_arrays(data.x, data.arrays.get("mask")))

    def apply_arrays(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Standardised ``x`` (float32); padded entries of sets (``mask`` False) stay zero."""
        self._check_fitted()
        shape = [1] * x.ndim
        shape[self.axis_] = -1
        out = (x - self.mean_.reshape(shape)) / self.scale_.reshape(shape)
        if mask is not None and x.ndim == 3:
            out = out * mask[..., None]
        return out.astype(np.float32, copy=False)

    def invert_arrays(self, x: np.ndarray) -> np.ndarray:
        """Standardised ``x`` back in the inputs' own units (generated samples), float32."""
        self._check_fitted()
        shape = [1] * x.ndim
        shape[self.axis_] = -1
        return (x * self.scale_.reshape(shape) + self.mean_.reshape(shape)).astype(np.float32, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        """Fitted state as arrays (saved with the model's checkpoint)."""
        self._check_fitted()
        return {"mean": self.mean_, "scale": self.scale_, "axis": np.array(self.axis_)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> Standardize:
        transform = cls()
        transform.mean_ = np.asarray(state["mean"], dtype=np.float32)
        transform.scale_ = np.asarray(state["scale"], dtype=np.float32)
        transform.axis_ = int(state["axis"])
        return transform


class TargetScaling:
    """Zero-mean, unit-variance regression targets, with statistics from the training split.

    A network learns targets of O(100) GeV as fast as targets of O(1) once they
    are shifted and scaled; its outputs are scaled back (:meth:`invert`), so
    predictions and metrics stay in the targets' own units. Targets ``y[N]``
    get one mean and scale, ``y[N, T]`` one per target; any other layout
    (images) one for all elements.
    """

    def __init__(self, epsilon: float = 1e-8):
        self.epsilon = epsilon

    def fit(self, y: np.ndarray) -> TargetScaling:
        values = np.asarray(y, dtype=np.float64)
        values = values if values.ndim == 2 else values.reshape(-1, 1)
        if len(values) == 0:
            raise UserError("cannot scale targets: no samples in the training split")
        self.mean_ = values.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(values.std(axis=0), self.epsilon).astype(np.float32)
        return self

    def _shape(self, values: np.ndarray) -> tuple[int, ...]:
        return (1, -1) if values.ndim == 2 and values.shape[1] == len(self.mean_) else (1,) * values.ndim

    def apply_arrays(self, y: np.ndarray) -> np.ndarray:
        """Scaled targets (float32)."""
        shape = self._shape(y)
        return ((y - self.mean_.reshape(shape)) / self.scale_.reshape(shape)).astype(np.float32, copy=False)

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Network outputs in scaled units back in the targets' units."""
        shape = self._shape(values)
        return (values * self.scale_.reshape(shape) + self.mean_.reshape(shape)).astype(np.float32, copy=False)

    def invert_spread(self, values: np.ndarray) -> np.ndarray:
        """Standard deviations in scaled units back in the targets' units (scaled, not shifted)."""
        return (values * self.scale_.reshape(self._shape(values))).astype(np.float32, copy=False)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> TargetScaling:
        scaling = cls()
        scaling.mean_ = np.asarray(state["mean"], dtype=np.float32).reshape(-1)
        scaling.scale_ = np.asarray(state["scale"], dtype=np.float32).reshape(-1)
        return scaling
