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

    #: an in-memory part; a :class:`~quanta.data.stream.stream.StreamPart` offers the same surface
    streamed = False

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

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample shape of every array."""
        return {name: tuple(array.shape[1:]) for name, array in self.arrays.items()}

    @property
    def targets(self) -> dict[str, np.ndarray]:
        """The arrays evaluation reads (all of them: targets, weights, masks)."""
        return self.arrays

    # -- the part interface shared with streamed parts -------------------------------------
    def checked(self, check_targets, needs_targets: bool = True) -> Dataset:
        """Finite inputs and targets that pass a task's check, or a one-line error.

        Without ``y``, an unsupervised task (``needs_targets=False``) passes.
        """
        self.check_finite()
        if "y" not in self.arrays:
            if needs_targets:
                raise UserError(f"{self.name}: no targets 'y' to learn from")
            return self
        where = self.info.get("targets_from") or f"{self.name} targets"
        return self.with_arrays(y=check_targets(np.asarray(self.y), where))

    def parts(self, fractions, seed: int, check_targets=None) -> dict[str, Dataset]:
        """Train, valid and test parts (targets were checked by :meth:`checked`)."""
        from quanta.data.split import split

        return split(self, fractions, seed=seed)

    def standardize(self):
        """A :class:`~quanta.data.transforms.Standardize` fitted on this (training) part's inputs."""
        from quanta.data.transforms import Standardize

        return Standardize().fit(self)

    def with_transform(self, transform, targets=None) -> Dataset:
        """This part with ``transform`` applied to its inputs and ``targets`` (a TargetScaling) to ``y``.

        Either may be None; with both None the part itself.
        """
        data = transform.apply(self) if transform is not None else self
        if targets is not None and "y" in data:
            data = data.with_arrays(y=targets.apply_arrays(data.y))
        return data

    def loader(self, device, names: tuple[str, ...]):
        """The arrays ``names`` resident on ``device``, batched by index gathers."""
        from quanta.data.batching import DeviceData

        return DeviceData(self, device, names)

    def in_chunks(self):
        """The part as one chunk (a streamed part yields many)."""
        yield self

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
