"""A data set: named NumPy arrays that share their leading dimension N.

``x`` holds the inputs (``float32[N, ...]``), ``y`` the targets (``int64[N]``
class labels or ``float32[N]``/``[N, T]`` regression targets); optional
``mask`` (``bool[N, P]``, padded entries False) and ``weight``
(``float32[N]``) travel along. Every source returns one; every method and the
training loop read one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from quanta.errors import UserError

KNOWN_ARRAYS = ("x", "y", "mask", "weight")


@dataclass
class Dataset:
    """Named arrays with a shared leading dimension, plus what they mean.

    Attributes:
        arrays: ``{"x": ..., "y": ..., "mask": ..., "weight": ...}``.
        name: where the data comes from (source name or file).
        feature_names: names of the last axis of ``x`` (for tables, figures).
        classes: class names, index = label value (classification only).
        info: the parameters that produced the data (recorded in run configs).
    """

    arrays: dict[str, np.ndarray]
    name: str = "data"
    feature_names: list[str] | None = None
    classes: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "x" not in self.arrays:
            raise UserError(f"{self.name}: a data set needs inputs 'x'; it has {sorted(self.arrays)}")
        lengths = {key: len(value) for key, value in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise UserError(f"{self.name}: arrays differ in length {lengths}; all must share N")

    def __len__(self) -> int:
        return len(self.arrays["x"])

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __contains__(self, key: object) -> bool:
        return key in self.arrays

    @property
    def x(self) -> np.ndarray:
        return self.arrays["x"]

    @property
    def y(self) -> np.ndarray:
        if "y" not in self.arrays:
            raise UserError(f"{self.name}: this data set has no targets 'y'")
        return self.arrays["y"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample's inputs (``x.shape[1:]``)."""
        return tuple(self.arrays["x"].shape[1:])

    def subset(self, index: np.ndarray) -> Dataset:
        """The rows ``index`` of every array (a copy)."""
        return replace(self, arrays={k: v[index] for k, v in self.arrays.items()})

    def with_arrays(self, **arrays: np.ndarray) -> Dataset:
        """A copy with some arrays replaced or added."""
        return replace(self, arrays={**self.arrays, **arrays})

    def check_finite(self) -> None:
        """Raise a one-line error counting NaN and Inf per array."""
        for key, value in self.arrays.items():
            if not np.issubdtype(value.dtype, np.floating):
                continue
            nan = int(np.isnan(value).sum())
            inf = int(np.isinf(value).sum())
            if nan or inf:
                raise UserError(
                    f"{self.name}: array '{key}' has {nan} NaN and {inf} Inf values; "
                    "clean or select them before training"
                )


def from_arrays(x: Any, y: Any = None, name: str = "arrays", **extra: Any) -> Dataset:
    """A :class:`Dataset` from array-likes (``X, y`` as users pass them to ``fit``)."""
    arrays: dict[str, np.ndarray] = {"x": np.asarray(x)}
    if arrays["x"].dtype.kind in "biuf":
        arrays["x"] = arrays["x"].astype(np.float32, copy=False)
    else:
        raise UserError(f"{name}: inputs X must be numeric, received dtype {arrays['x'].dtype}")
    if arrays["x"].ndim == 1:
        arrays["x"] = arrays["x"][:, None]
    if y is not None:
        arrays["y"] = np.asarray(y)
    for key, value in extra.items():
        if value is not None:
            arrays[key] = np.asarray(value)
    return Dataset(arrays, name=name)
