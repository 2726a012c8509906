"""What calibration learns: each estimator's response and scatter in ln R, and their correlation.

See :mod:`quanta.consensus` for the model; :func:`fit_calibration` fits it by
maximum likelihood, :meth:`Calibration.posterior` evaluates the posterior of
ln R given the estimates a curve allowed on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

GRID_POINTS = 2001  # grid of ln R on which a posterior is evaluated (twice: wide, then refined)
MIN_SHARED = 10  # shared curves below which two estimators' correlation is taken as 0


@dataclass(frozen=True)
class Calibration:
    """What calibration learned in t = ln R, one entry per estimator (see the module docstring).

    offset a, gain b, log_scatter c, scatter_slope d: float64[K]; correlation C: float64[K, K];
    centre t0; log_radius_range: the prior's range of ln R (where the scatter model holds);
    curves: how many calibrated it; available: on how many each estimator gave a radius.
    """

    offset: np.ndarray
    gain: np.ndarray
    log_scatter: np.ndarray
    scatter_slope: np.ndarray
    correlation: np.ndarray
    centre: float
    log_radius_range: tuple[float, float]
    curves: int
    available: tuple[int, ...]

    def scatter(self, t: np.ndarray) -> np.ndarray:
        """s_k(t_k) for t float64[..., K] (one t per estimator), held constant outside the range."""
        u = np.clip(t, *self.log_radius_range) - self.centre
        return np.exp(self.log_scatter + self.scatter_slope * u)

    def single(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each estimator's calibrated ln R (its response inverted) and its sd, float64[..., K]."""
        t = self.centre + (z - self.offset) / self.gain
        return t, self.scatter(t) / np.abs(self.gain)

    def posterior(self, z: np.ndarray, prior: str = "calibration") -> tuple[np.ndarray, np.ndarray]:
        """The posterior of t given z float64[K] (NaN: missing) on a grid: (grid, density) [G]."""
        use = np.isfinite(z)
        low, high = self.log_radius_range
        if prior == "flat":
            t, sd = self.single(z)
            low, high = float(np.min((t - 10 * sd)[use])), float(np.max((t + 10 * sd)[use]))
        grid = np.linspace(low, high, GRID_POINTS)
        first, last = np.interp([1e-7, 1 - 1e-7], cdf(grid, self._density(grid, z, use)), grid)
        step = grid[1] - grid[0]  # then refine on where the mass is
        grid = np.linspace(max(low, first - 3 * step), min(high, last + 3 * step), GRID_POINTS)
        return grid, self._density(grid, z, use)

    def _density(self, grid: np.ndarray, z: np.ndarray, use: np.ndarray) -> np.ndarray:
        t = np.repeat(grid[:, None], len(z), axis=1)  # [G, K]
        scatter = self.scatter(t)[:, use]  # [G, A]
        mean = self.offset[use] + self.gain[use] * (t[:, use] - self.centre)  # [G, A]
        standard = (z[use] - mean) / scatter
        inverse = np.linalg.inv(self.correlation[np.ix_(use, use)])
        log_density = -0.5 * np.einsum("ga,ab,gb->g", standard, inverse, standard)
        log_density -= np.log(scatter).sum(axis=1)
        density = np.exp(log_density - log_density.max())
        return density / np.trapezoid(density, grid)

    def to_json(self) -> dict[str, Any]:
        return {"offset": self.offset.tolist(), "gain": self.gain.tolist(),
                "log_scatter": self.log_scatter.tolist(),
                "scatter_slope": self.scatter_slope.tolist(),
                "correlation": self.correlation.tolist(), "centre": self.centre,
                "log_radius_range": list(self.log_radius_range), "curves": self.curves,
                "available": list(self.available)}

    @classmethod
    def from_json(cls, record: dict[str, Any], estimators: int) -> Calibration:
        vectors = {key: np.asarray(record[key], dtype=np.float64)
                   for key in ("offset", "gain", "log_scatter", "scatter_slope")}
        correlation = np.asarray(record["correlation"], dtype=np.float64)
        if (any(v.shape != (estimators,) for v in vectors.values())
                or correlation.shape != (estimators, estimators)):
            raise ValueError(f"calibration: needs one entry per estimator ({estimators})")
        low, high = (float(v) for v in record["log_radius_range"])
        return cls(**vectors, correlation=correlation, centre=float(record["centre"]),
                   log_radius_range=(low, high), curves=int(record["curves"]),
                   available=tuple(int(n) for n in record["available"]))


def fit_calibration(log_estimates: np.ndarray, log_truth: np.ndarray,
                    log_radius_range: tuple[float, float]) -> Calibration:
    """Each estimator's response and scatter, and their correlation, from z float64[N, K], t [N].

    NaN in ``log_estimates`` marks a missing estimate; each estimator is fitted
    on its own curves, each pair's correlation on the curves they share.
    """
    from scipy.optimize import minimize

    centre = float(np.mean(log_truth))
    parameters, standard = [], np.full(log_estimates.shape, np.nan)
    for k in range(log_estimates.shape[1]):
        use = np.isfinite(log_estimates[:, k])
        z, u = log_estimates[use, k], log_truth[use] - centre
        slope, intercept = np.polyfit(u, z, 1)
        start = [intercept, slope, np.log(np.std(z - intercept - slope * u) + 1e-9), 0.0]

        def minus_log_likelihood(p, z=z, u=u):
            log_s = p[2] + p[3] * u
            r, w = z - p[0] - p[1] * u, np.exp(-2 * log_s)
            g = 1.0 - r ** 2 * w
            gradient = [-np.sum(r * w), -np.sum(r * w * u), np.sum(g), np.sum(g * u)]
            return float(np.sum(0.5 * r ** 2 * w + log_s)), np.array(gradient)

        best = minimize(minus_log_likelihood, start, jac=True, method="L-BFGS-B").x
        parameters.append(best)
        standard[use, k] = (z - best[0] - best[1] * u) / np.exp(best[2] + best[3] * u)
    a, b, c, d = np.array(parameters).T
    return Calibration(a, b, c, d, _correlation(standard), centre, log_radius_range,
                       len(log_truth), tuple(int(n) for n in np.isfinite(log_estimates).sum(0)))


def _correlation(standard: np.ndarray) -> np.ndarray:
    """Pairwise correlation of standardised residuals [N, K] (NaN: missing), positive definite."""
    k = standard.shape[1]
    correlation = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            both = np.isfinite(standard[:, i]) & np.isfinite(standard[:, j])
            if both.sum() >= MIN_SHARED:
                a, b = standard[both, i], standard[both, j]
                value = np.mean(a * b) / np.sqrt(np.mean(a * a) * np.mean(b * b))
                correlation[i, j] = correlation[j, i] = value
    values, vectors = np.linalg.eigh(correlation)  # pairwise estimates need not be jointly valid
    correlation = (vectors * np.maximum(values, 1e-3)) @ vectors.T
    scale = np.sqrt(np.diag(correlation))
    return correlation / np.outer(scale, scale)


def cdf(grid: np.ndarray, density: np.ndarray) -> np.ndarray:
    """The normalised cumulative distribution of ``density`` on ``grid``."""
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    return cdf / cdf[-1]
