"""One-line checks of what a user hands to an optimisation: box, budget, names, values."""

from __future__ import annotations

import math

import numpy as np

from quanta.errors import UserError, shown, unknown_name


def check_bounds(bounds: object) -> np.ndarray:
    """The box as a float array of shape ``(d, 2)`` with finite ``low < high`` in every row."""
    try:
        box = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError):
        raise UserError(
            "bounds: must be [[low, high], ...] numbers, one row per parameter; "
            f"received {shown(bounds)}"
        ) from None
    if box.ndim != 2 or box.shape[1] != 2 or box.shape[0] < 1:
        raise UserError(
            "bounds: must have shape [d, 2] (one [low, high] per parameter); "
            f"received shape {list(box.shape)}"
        )
    if not np.isfinite(box).all() or not (box[:, 0] < box[:, 1]).all():
        bad = int(np.flatnonzero(~(np.isfinite(box).all(1) & (box[:, 0] < box[:, 1])))[0])
        raise UserError(
            f"bounds[{bad}]: must be finite with low < high; received {box[bad].tolist()}"
        )
    return box


def check_count(name: str, value: object, least: int) -> int:
    """An integer ``>= least``, named ``name`` in the message."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise UserError(f"{name}: must be an integer >= {least}; received {shown(value)}")
    return int(value)


def check_positive(name: str, value: object) -> float:
    """A finite number ``> 0``, named ``name`` in the message."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise UserError(f"{name}: must be a finite number > 0; received {shown(value)}")
    return float(value)


def check_acquisition(name: object) -> str:
    """One of :data:`quanta.bayesopt.acquisition.ACQUISITIONS`."""
    from quanta.bayesopt.acquisition import ACQUISITIONS

    if name not in ACQUISITIONS:
        raise unknown_name("acquisition", str(name), ACQUISITIONS)
    return str(name)


def check_value(value: object, point: np.ndarray) -> float:
    """The function's value at ``point`` as a finite float."""
    try:
        number = float(np.asarray(value, dtype=float).reshape(()))
    except (TypeError, ValueError):
        raise UserError(
            f"function: must return one finite number; at {point.tolist()} "
            f"it returned {shown(value)}"
        ) from None
    if not math.isfinite(number):
        raise UserError(
            f"function: returned {number} at {point.tolist()}; it must return a finite number"
        )
    return number


def check_evaluations(
    points: object, values: object, box: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluated points ``(n, d)`` and finite values ``(n,)`` that fit the box ``(d, 2)``."""
    x = np.asarray(points, dtype=float)
    y = np.asarray(values, dtype=float).reshape(-1)
    if x.ndim != 2 or x.shape[1] != box.shape[0] or len(x) != len(y) or len(y) < 1:
        raise UserError(
            f"points: must have shape [n, {box.shape[0]}] with one value each; "
            f"received points {list(x.shape)} and values {list(y.shape)}"
        )
    if not np.isfinite(y).all():
        raise UserError(f"values: must be finite; {int((~np.isfinite(y)).sum())} are not")
    return x, y
