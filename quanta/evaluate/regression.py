"""Regression metrics: errors, bias and resolution of a predicted quantity.

For an energy or mass regression a physicist asks two questions: is the
prediction biased (mean of the residual ``prediction - y``), and how wide is
the residual distribution (the resolution)? The standard deviation answers
the second for Gaussian residuals but is dominated by tails; the robust
resolution, half the distance between the 16% and 84% quantiles, equals the
standard deviation for a Gaussian and ignores outliers.

A method that also predicts its own uncertainty ``sigma`` per sample (a deep
ensemble, MC dropout, a Gaussian head) is checked on whether ``sigma`` can be
trusted: the central Gaussian interval ``prediction ± z sigma`` should hold
the true value as often as its nominal level says (68.27 % for ``z = 1``,
95.45 % for ``z = 2``; :func:`coverage`), and the Gaussian negative
log-likelihood (:func:`gaussian_nll`) rewards uncertainties that are both
honest and small.

Shapes:
    y, prediction: float[N] for one target or float[N, T] for T targets
    (float[N, 1] is treated as float[N]). With several targets every function
    returns float[T], one value per target; :func:`regression_metrics` reports
    the mean over targets.
    uncertainty: the standard deviation ``sigma`` of each prediction, in the
    units of ``y``, shaped like ``prediction``.
    weight: optional float[N].
"""

from __future__ import annotations

import math
from typing import NamedTuple

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


class BinnedResolution(NamedTuple):
    """Bias and resolution of one target's residuals in bins of its true value.

    Attributes:
        edges: float[B + 1], the bin edges in the true value (units of ``y``).
        centres: float[B], the weighted median true value of each bin's samples.
        events: int[B], the number of samples in each bin.
        bias, bias_error: float[B], the weighted median residual ``prediction - y`` and its
            statistical error ``1.2533 sigma_68 / sqrt(N_eff)`` (a Gaussian median's).
        sigma, sigma_error: float[B], the weighted standard deviation of the residuals and its
            error ``sigma / sqrt(2 (N_eff - 1))``.
        sigma_68, sigma_68_error: float[B], half the weighted 16-84 % interquantile range of
            the residuals and its error ``0.958 sigma_68 / sqrt(N_eff)`` (the asymptotic
            spread of two Gaussian quantiles).
    """

    edges: np.ndarray
    centres: np.ndarray
    events: np.ndarray
    bias: np.ndarray
    bias_error: np.ndarray
    sigma: np.ndarray
    sigma_error: np.ndarray
    sigma_68: np.ndarray
    sigma_68_error: np.ndarray


#: the error of a Gaussian sample's median, in units of sigma / sqrt(N)
_MEDIAN_ERROR = math.sqrt(math.pi / 2.0)
#: the error of half the 16-84 % interquantile range of a Gaussian sample, in sigma / sqrt(N):
#: sqrt(p (1 - 2 p) / 2) / phi(z_p) for p = 0.16
_SIGMA_68_ERROR = (math.sqrt(0.16 * 0.68 / 2.0)
                   / (math.exp(-0.5 * 0.9945**2) / math.sqrt(2 * math.pi)))


def binned_resolution(
    y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None,
    bins: int = 10, target: int = 0,
) -> BinnedResolution:
    """Bias and resolution of the residuals ``prediction - y`` in bins of the true ``y``.

    The bins hold equal numbers of samples (edges at the quantiles of ``y``, so
    every bin has the same statistical power; ties can merge bins). In each bin
    the weighted median residual is the bias, and the resolution is given twice:
    the weighted standard deviation (sensitive to tails) and half the weighted
    16-84 % interquantile range (robust). Errors use the effective number of
    events ``(sum w)^2 / sum(w^2)`` of the bin. Bins whose weights do not sum to
    a positive number are left out.

    Args:
        y, prediction: float[N] or float[N, T]; ``target`` selects the column.
        weight: optional float[N].
        bins: the number of bins of the true value, at least 1.
        target: the column of ``y`` and ``prediction`` to use.
    """
    t, p, w = _regression_inputs(y, prediction, weight)
    if bins < 1:
        raise UserError(f"bins: expected a positive number of bins, received {bins!r}")
    if not 0 <= target < t.shape[1]:
        raise UserError(f"target: expected a column in 0..{t.shape[1] - 1}, received {target!r}")
    true, residual = t[:, target], p[:, target] - t[:, target]
    edges = np.unique(np.quantile(true, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:
        edges = np.array([true[0] - 0.5, true[0] + 0.5])
    index = np.clip(np.searchsorted(edges, true, side="right") - 1, 0, edges.size - 2)
    rows: list[tuple[float, ...]] = []
    for b in range(edges.size - 1):
        inside = index == b
        wb = w[inside]
        if not inside.any() or np.sum(wb) <= 0:
            continue
        r = residual[inside]
        effective = float(np.sum(wb)) ** 2 / float(np.sum(wb**2))
        low, median, high = weighted_quantile(r, [0.16, 0.5, 0.84], wb)
        sigma = math.sqrt(max(float(np.average((r - np.average(r, weights=wb)) ** 2, weights=wb)),
                              0.0))
        sigma_68 = float(high - low) / 2.0
        rows.append((float(weighted_quantile(true[inside], [0.5], wb)[0]), int(inside.sum()),
                     float(median), _MEDIAN_ERROR * sigma_68 / math.sqrt(effective),
                     sigma, sigma / math.sqrt(2.0 * max(effective - 1.0, 1.0)),
                     sigma_68, _SIGMA_68_ERROR * sigma_68 / math.sqrt(effective)))
    columns = np.asarray(rows, dtype=np.float64).reshape(-1, 8).T
    return BinnedResolution(edges, columns[0], columns[1].astype(np.int64), *columns[2:])


#: The central Gaussian intervals :func:`uncertainty_metrics` reports: key -> half-width in sigma.
COVERAGE_INTERVALS = {"coverage_68": 1.0, "coverage_95": 2.0}


def _uncertainty_inputs(
    y: ArrayLike, prediction: ArrayLike, uncertainty: ArrayLike, weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, prediction, sigma, weight)`` as float[N, T] (three times) and float[N]."""
    t, p, w = _regression_inputs(y, prediction, weight)
    sigma = as_finite("uncertainty", uncertainty, ndim=(1, 2))
    same_length(prediction=p, uncertainty=sigma)
    sigma = sigma.reshape(len(sigma), -1)
    if sigma.shape != p.shape:
        raise UserError(f"uncertainty: expected one standard deviation per prediction {p.shape}, "
                        f"received {sigma.shape}")
    if np.any(sigma <= 0):
        bad = int(np.count_nonzero(sigma <= 0))
        raise UserError(f"uncertainty: standard deviations must be positive; {bad} of {sigma.size} "
                        "are zero or negative")
    return t, p, sigma, w


def gaussian_level(z: float) -> float:
    """The probability content of the central interval ``mean ± z sigma`` of a Gaussian."""
    return math.erf(z / math.sqrt(2.0))


def coverage(
    y: ArrayLike, prediction: ArrayLike, uncertainty: ArrayLike, z: float = 1.0,
    weight: ArrayLike | None = None,
) -> float | np.ndarray:
    """Observed coverage of the intervals ``prediction ± z sigma``: the (weighted) fraction of
    samples with ``|y - prediction| <= z sigma``.

    For honest Gaussian uncertainties it equals :func:`gaussian_level` of ``z``
    (0.6827 for ``z = 1``, 0.9545 for ``z = 2``); below that the method is
    overconfident (``sigma`` too small), above it conservative.
    """
    t, p, sigma, w = _uncertainty_inputs(y, prediction, uncertainty, weight)
    return _per_target(_mean((np.abs(t - p) <= z * sigma).astype(np.float64), w))


def coverage_curve(
    y: ArrayLike, prediction: ArrayLike, uncertainty: ArrayLike, levels: ArrayLike,
    weight: ArrayLike | None = None,
) -> np.ndarray:
    """Observed coverage of the central Gaussian intervals of nominal ``levels``, float[L].

    The interval of level ``q`` is ``prediction ± z sigma`` with
    ``z = sqrt(2) erfinv(q)``; the coverage is averaged over targets. For
    honest Gaussian uncertainties the curve is the diagonal.
    """
    from scipy.special import erfinv  # scipy is slow to import; load it when needed

    q = np.asarray(levels, dtype=np.float64)
    if q.ndim != 1 or np.any((q <= 0) | (q >= 1)):
        raise UserError("levels: expected nominal coverages strictly between 0 and 1")
    t, p, sigma, w = _uncertainty_inputs(y, prediction, uncertainty, weight)
    pulls = np.abs(t - p) / sigma  # float[N, T]
    z = np.sqrt(2.0) * erfinv(q)  # float[L]
    covered = np.zeros((q.size, pulls.shape[1]))
    for j in range(pulls.shape[1]):  # the weight of the samples whose pull is <= z, by sorting
        order = np.argsort(pulls[:, j], kind="mergesort")
        passed = np.r_[0.0, np.cumsum(w[order])]
        covered[:, j] = passed[np.searchsorted(pulls[order, j], z, side="right")]
    return covered.mean(axis=1) / np.sum(w)


def gaussian_nll(
    y: ArrayLike, prediction: ArrayLike, uncertainty: ArrayLike, weight: ArrayLike | None = None
) -> float | np.ndarray:
    """Mean Gaussian negative log-likelihood ``<log(2 pi sigma^2) / 2 + (y - prediction)^2 / (2 sigma^2)>``.

    Lower is better: it punishes a ``sigma`` too small for the residuals
    (the second term) and one larger than needed (the first). Its value
    depends on the units of ``y``; compare methods on one target.
    """
    t, p, sigma, w = _uncertainty_inputs(y, prediction, uncertainty, weight)
    per_sample = 0.5 * np.log(2.0 * np.pi * sigma**2) + 0.5 * ((t - p) / sigma) ** 2
    return _per_target(_mean(per_sample, w))


def uncertainty_metrics(
    y: ArrayLike, prediction: ArrayLike, uncertainty: ArrayLike, weight: ArrayLike | None = None
) -> dict[str, float]:
    """How trustworthy a regression's per-sample uncertainties are, on one split.

    Returns:
        ``{"coverage_68", "coverage_95", "gaussian_nll"}``: the observed
        coverage of ``prediction ± sigma`` (nominal 68.27 %) and
        ``prediction ± 2 sigma`` (nominal 95.45 %), and the mean Gaussian
        negative log-likelihood, each averaged over targets.
    """
    metrics = {name: float(np.mean(coverage(y, prediction, uncertainty, z, weight)))
               for name, z in COVERAGE_INTERVALS.items()}
    metrics["gaussian_nll"] = float(np.mean(gaussian_nll(y, prediction, uncertainty, weight)))
    return metrics


__all__ = [
    "COVERAGE_INTERVALS",
    "BinnedResolution",
    "bias",
    "binned_resolution",
    "coverage",
    "coverage_curve",
    "gaussian_level",
    "gaussian_nll",
    "mae",
    "mse",
    "r2",
    "regression_metrics",
    "resolution",
    "rmse",
    "robust_resolution",
    "uncertainty_metrics",
    "weighted_quantile",
]
