"""Regression metrics: errors, bias and resolution of a predicted quantity.

For an energy or mass regression a physicist asks two questions: is the
prediction biased (mean of the residual ``prediction - y``), and how wide is
the residual distribution (the resolution)? The standard deviation answers
the second for Gaussian residuals but is dominated by tails; the robust
resolution, half the distance between the 16% and 84% quantiles, equals the
standard deviation for a Gaussian and ignores outliers.

Shapes:
    y, prediction: float[N] for one target or float[N, T] for T targets
    (float[N, 1] is treated as float[N]). With several targets every function
    returns float[T], one value per target; :func:`regression_metrics` reports
    the mean over targets.
    weight: optional float[N].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight, same_length


def _regression_inputs(
    y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, prediction, weight)`` as float[N, T], float[N, T], float[N]."""
    t = as_finite("y", y, ndim=(1, 2))
    p = as_finite("prediction", prediction, ndim=(1, 2))
    n = same_length(y=t, prediction=p)
    t, p = t.reshape(n, -1), p.reshape(n, -1)
    if t.shape != p.shape:
        raise UserError(
            f"prediction: expected one value per target like y {t.shape}, received {p.shape}"
        )
    w = as_weight(weight, n)
    if np.sum(w) <= 0:
        raise UserError("weight: the weights must have a positive sum")
    return t, p, w


def _per_target(values: np.ndarray) -> float | np.ndarray:
    """A float for one target, float[T] for several."""
    return float(values[0]) if values.size == 1 else values


def _mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean over samples of float[N, T] -> float[T]."""
    return np.sum(w[:, None] * values, axis=0) / np.sum(w)


def weighted_quantile(
    values: ArrayLike, quantiles: ArrayLike, weight: ArrayLike | None = None
) -> np.ndarray:
    """Quantiles of float[N] ``values`` where each value counts with its weight.

    The q-quantile is the smallest value at which the weighted cumulative
    distribution reaches q (the inverse of the empirical CDF), so an integer
    weight w means exactly the same as the value appearing w times. With unit
    weights this is ``np.quantile(values, q, method="inverted_cdf")``.
    """
    v = as_finite("values", values)
    w = as_weight(weight, v.size)
    order = np.argsort(v, kind="mergesort")
    v, w = v[order], w[order]
    # running maximum: negative weights must not make the CDF step back
    cdf = np.maximum.accumulate(np.cumsum(w)) / np.sum(w)
    q = np.asarray(quantiles, dtype=np.float64)
    # a small tolerance so that q = 0.5 with cdf = 0.49999999999 still picks that value
    index = np.searchsorted(cdf, q - 1e-12, side="left")
    return v[np.clip(index, 0, v.size - 1)]


def mse(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Mean squared error, ``<(prediction - y)^2>``."""
    t, p, w = _regression_inputs(y, prediction, weight)
    return _per_target(_mean((p - t) ** 2, w))


def rmse(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Root mean squared error, in the units of ``y``."""
    return _per_target(np.sqrt(np.atleast_1d(mse(y, prediction, weight))))


def mae(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Mean absolute error, ``<|prediction - y|>``."""
    t, p, w = _regression_inputs(y, prediction, weight)
    return _per_target(_mean(np.abs(p - t), w))


def r2(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Coefficient of determination, ``1 - MSE / Var(y)``: 1 is perfect, 0 is predicting
    the mean of ``y``, negative is worse than that. NaN for a constant target."""
    t, p, w = _regression_inputs(y, prediction, weight)
    residual = _mean((p - t) ** 2, w)
    spread = _mean((t - _mean(t, w)) ** 2, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(spread > 0, 1.0 - residual / np.where(spread > 0, spread, 1.0), np.nan)
    return _per_target(value)


def bias(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Mean residual ``<prediction - y>``; positive means the method overestimates."""
    t, p, w = _regression_inputs(y, prediction, weight)
    return _per_target(_mean(p - t, w))


def resolution(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Standard deviation of the residuals ``prediction - y`` (the bias is not included)."""
    t, p, w = _regression_inputs(y, prediction, weight)
    r = p - t
    return _per_target(np.sqrt(_mean((r - _mean(r, w)) ** 2, w)))


def robust_resolution(
    y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None
) -> float | np.ndarray:
    """Half the 16%-84% interquantile range of the residuals.

    For Gaussian residuals this equals their standard deviation; unlike the
    standard deviation it is not inflated by a few badly predicted events.
    """
    t, p, w = _regression_inputs(y, prediction, weight)
    r = p - t
    halves = [
        np.diff(weighted_quantile(r[:, j], [0.16, 0.84], w))[0] / 2.0 for j in range(r.shape[1])
    ]
    return _per_target(np.asarray(halves))


def regression_metrics(
    y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None
) -> dict[str, float]:
    """The summary of a regression on one split, each value averaged over targets.

    Returns:
        ``{"mse", "rmse", "mae", "r2", "bias", "resolution", "resolution_robust"}``.
        ``r2`` is averaged over the targets that vary and left out when none
        does (it is undefined for a constant target), so that every value is finite.
    """
    functions = {
        "mse": mse,
        "rmse": rmse,
        "mae": mae,
        "r2": r2,
        "bias": bias,
        "resolution": resolution,
        "resolution_robust": robust_resolution,
    }
    metrics = {}
    for name, function in functions.items():
        values = np.atleast_1d(function(y, prediction, weight))
        defined = values[np.isfinite(values)]
        if defined.size:
            metrics[name] = float(np.mean(defined))
    return metrics


__all__ = [
    "bias",
    "mae",
    "mse",
    "r2",
    "regression_metrics",
    "resolution",
    "rmse",
    "robust_resolution",
    "weighted_quantile",
]
