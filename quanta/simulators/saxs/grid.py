"""The q grids: where models are evaluated, where curves are measured, where pixels sit.

*Calculation grid.* Every sample's model is evaluated once, on a log-spaced
grid that contains the measured curve grid point for point (same log step, or
an integer refinement of it when the curve has fewer than 50 points per
decade). It starts at ``q_min / 2`` (room for the widest pinhole smearing,
dq/q = 0.2, and for detector pixels near the beam) and ends where the pinhole
Gaussian of the last point ends, ``q_max (1 + 3 dq/q)``: the high-q end is
where orientation averages of long rods need thousands of angles, so it is
kept as short as the smearing allows. The resolution, the curve and the
images are all computed from this one evaluation.

*Smearing.* A pinhole collimation blurs each measured point with a Gaussian in
q of width ``dq = dq_over_q * q`` (Pedersen, Posselt and Mortensen, J. Appl.
Cryst. 23 (1990) 321; Barker and Pedersen, J. Appl. Cryst. 28 (1995) 105). It
is a fixed linear map from the calculation grid to the measured q, applied to
all samples with one matrix product (sasmodels' ``pinhole_resolution``).

*Detector.* A square detector of H x H pixels centred on the direct beam
covers ``-Q <= q_x, q_y <= Q``: pixel (i, j) has its centre at
``q_x = (2 j + 1 - H) * Q / H`` and ``q_y = (2 i + 1 - H) * Q / H`` (pixel
size ``2 Q / H`` in 1/A); for an isotropic sample its intensity is I(|q|).
Its corners (|q| = sqrt(2) Q) must lie within the curve's range.
"""

from __future__ import annotations

import math

import numpy as np

MIN_POINTS_PER_DECADE = 50  # coarser curves are evaluated on a refined grid (pinhole integrals, fringes)
CALC_BELOW = 2.0  # the calculation grid starts at q_min / 2
PINHOLE_SIGMAS = (2.5, 3.0)  # the pinhole Gaussian is integrated from -2.5 to +3 sigma (sasmodels' choice)


def calculation_grid(q_min: float, q_max: float, n_q: int, dq_over_q: float) -> tuple[np.ndarray, np.ndarray]:
    """The calculation grid and the indices of the measured curve's q in it.

    Returns ``q_calc`` float64[M] (increasing, log-spaced) and ``picks``
    int64[n_q] with ``q_calc[picks]`` the measured grid, which runs
    log-uniformly from ``q_min`` to ``q_max``.
    """
    decades = math.log10(q_max / q_min)
    refine = max(1, math.ceil(MIN_POINTS_PER_DECADE * decades / (n_q - 1)))
    step = decades / ((n_q - 1) * refine)  # log10 step of the calculation grid
    below = math.ceil(math.log10(CALC_BELOW) / step)
    above = math.ceil(math.log10(1 + PINHOLE_SIGMAS[1] * dq_over_q) / step)
    exponents = np.arange(-below, (n_q - 1) * refine + above + 1)
    q_calc = q_min * 10.0 ** (exponents * step)
    picks = below + refine * np.arange(n_q)
    q_calc[picks[-1]] = q_max  # exact end point despite rounding
    return q_calc, picks


def curve_grid(q_min: float, q_max: float, n_q: int) -> np.ndarray:
    """The measured q of a curve, float64[n_q] in 1/A (log-spaced, ends included)."""
    q_calc, picks = calculation_grid(q_min, q_max, n_q, 0.0)
    return q_calc[picks]


def smearing_matrix(q_calc: np.ndarray, q: np.ndarray, dq_over_q: float) -> np.ndarray:
    """Weights W[M, Q] with ``I_measured = I_calc @ W`` (each column sums to 1).

    With ``dq_over_q > 0`` a column is the pinhole Gaussian of width ``dq_over_q
    * q`` integrated over the calculation bins; with 0 (or where the Gaussian
    is narrower than the grid) it is linear interpolation in log q, exact at
    points of the calculation grid.
    """
    interpolation = _log_interpolation(q_calc, q)
    if dq_over_q <= 0:
        return interpolation
    from sasmodels.resolution import pinhole_resolution

    with np.errstate(invalid="ignore", divide="ignore"):
        weights = pinhole_resolution(q_calc, q, dq_over_q * q, nsigma=PINHOLE_SIGMAS)
    # a Gaussian that covers fewer than two calculation points is better interpolated
    poor = ~np.isfinite(weights).all(axis=0) | ((weights > 0).sum(axis=0) < 2)
    weights[:, poor] = interpolation[:, poor]
    return weights


def _log_interpolation(q_calc: np.ndarray, q: np.ndarray) -> np.ndarray:
    """W[M, Q] interpolating linearly in log q (constant beyond the ends of ``q_calc``)."""
    position = np.interp(np.log(q), np.log(q_calc), np.arange(len(q_calc), dtype=np.float64))
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(q_calc) - 1)
    fraction = position - low
    weights = np.zeros((len(q_calc), len(q)))
    columns = np.arange(len(q))
    np.add.at(weights, (low, columns), 1 - fraction)
    np.add.at(weights, (high, columns), fraction)
    return weights


def detector_radii(pixels: int, q_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The distinct |q| of an H x H detector's pixel centres and, per pixel, which one it has.

    Returns ``radii`` float64[K] (increasing, 1/A) and ``index`` int64[H, H]
    with ``radii[index]`` the |q| of every pixel. By symmetry K is about H^2 / 8,
    so an isotropic image costs K model values, not H^2.
    """
    odd = 2 * np.arange(pixels) + 1 - pixels  # pixel centres in units of q_max / H
    squared = odd[:, None] ** 2 + odd[None, :] ** 2  # exact integers: equal radii compare equal
    distinct, index = np.unique(squared, return_inverse=True)
    return np.sqrt(distinct) * q_max / pixels, index.reshape(pixels, pixels)


def pixel_q(pixels: int, q_max: float) -> np.ndarray:
    """q_x (= q_y) of the pixel centres along one detector axis, float64[H] in 1/A."""
    return (2 * np.arange(pixels) + 1 - pixels) * q_max / pixels
