"""Checks shared by the metric modules: turn user arrays into clean NumPy arrays.

Predictions come from files written by other code (or by a user's own
script), so every metric checks its inputs once, at the edge, and says what is
wrong in one line (:class:`quanta.errors.UserError`) instead of failing deep
inside NumPy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError


def as_finite(name: str, values: ArrayLike, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    """``values`` as a float64 array of an allowed rank with no NaN or Inf."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in ndim:
        allowed = " or ".join(f"{d}-D" for d in ndim)
        raise UserError(f"{name}: expected a {allowed} array, received shape {array.shape}")
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise UserError(f"{name}: {bad} of {array.size} values are NaN or Inf")
    return array


def as_weight(weight: ArrayLike | None, n: int) -> np.ndarray:
    """Per-sample weights as float64[N]; ``None`` means every sample weighs 1.

    Negative weights (NLO event generators produce them) are allowed; the
    metrics use them as signed contributions to every sum.
    """
    if weight is None:
        return np.ones(n, dtype=np.float64)
    w = as_finite("weight", weight)
    if w.shape[0] != n:
        raise UserError(f"weight: expected {n} values (one per sample), received {w.shape[0]}")
    return w


def same_length(**arrays: np.ndarray) -> int:
    """The common leading dimension N of the named arrays, or a UserError naming them."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise UserError(f"arrays must have one value per sample: {described}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise UserError(f"{', '.join(lengths)}: no samples to evaluate")
    return n


def as_labels(name: str, values: ArrayLike) -> np.ndarray:
    """Integer class labels as int64[N]; floats are accepted only when they are whole."""
    raw = np.asarray(values)
    if raw.ndim != 1:
        raise UserError(f"{name}: expected a 1-D array of class labels, received shape {raw.shape}")
    if raw.dtype == bool:
        return raw.astype(np.int64)
    as_float = as_finite(name, raw)
    labels = np.rint(as_float).astype(np.int64)
    if np.any(labels != as_float) or np.any(labels < 0):
        raise UserError(f"{name}: class labels must be non-negative integers (0, 1, ...)")
    return labels
