"""Quick estimates of a sphere's radius from one curve: the Guinier law and the first minimum.

Both are the textbook reads of a SAXS curve, cheap enough to run on every
measurement of a scan, and both are biased by polydispersity, resolution and
noise in ways a consensus calibrates (:mod:`quanta.inference.consensus`):

- **Guinier**: at small q, ``ln I(q) = ln I(0) - q^2 Rg^2 / 3``; a weighted
  straight-line fit of ``ln I`` against ``q^2`` over ``q Rg < QRG_MAX`` gives
  the radius of gyration, and a homogeneous sphere has ``R = sqrt(5/3) Rg``.
  The range depends on Rg: it starts where I has fallen to ``exp(-1.3^2/3)``
  of its lowest-q value and is refitted on the range its own result allows
  until it settles. A polydisperse sample gives a z-weighted Rg
  (``<R^8>/<R^6>``), larger than the mean radius.
- **First minimum**: a sphere's form factor ``[3 (sin x - x cos x) / x^3]^2``
  has its first zero at ``x = q R = FIRST_ZERO``. The curve is flattened by
  ``q^4`` (Porod), smoothed, and the first local minimum after the Guinier
  region is located by a parabola through the three points around it.

Each returns the radius in A and a standard error from the fit (the straight
line's covariance; the parabola's location spread over one grid step). A curve
that does not allow the estimate raises :class:`~quanta.errors.UserError`
naming what is missing.
"""

from __future__ import annotations

import numpy as np

from quanta.errors import UserError

SPHERE_RG = np.sqrt(5.0 / 3.0)  # R / Rg of a homogeneous sphere
QRG_MAX = 1.3  # the Guinier law holds to a percent or so below this q Rg
GUINIER_MIN_POINTS = 4
GUINIER_ITERATIONS = 20
FIRST_ZERO = 4.493409457909064  # the first root of tan x = x
SMOOTHING = 5  # points of the running mean before the minimum is looked for


def guinier_radius(q: np.ndarray, intensity: np.ndarray,
                   sigma: np.ndarray | None = None) -> tuple[float, float]:
    """A sphere's radius from the Guinier law, and its standard error (both in A).

    Args:
        q: float64[n] increasing q in 1/A.
        intensity: float64[n] measured I(q); points with I <= 0 are skipped.
        sigma: float64[n] its standard uncertainty, or None (equal weights).
    """
    q, intensity, sigma = _arrays(q, intensity, sigma)
    keep = intensity > 0
    q, intensity, sigma = q[keep], intensity[keep], sigma[keep]
    if len(q) < GUINIER_MIN_POINTS:
        raise UserError(f"guinier: needs at least {GUINIER_MIN_POINTS} points with I > 0; "
                        f"the curve has {len(q)}")
    x, y, weight = q ** 2, np.log(intensity), (intensity / sigma) ** 2  # var(ln I) = (dI / I)^2
    # start where I has fallen to its value at q Rg = 1.3, exp(-1.3^2 / 3) of I(0), then let the fit settle
    level = np.median(intensity[:GUINIER_MIN_POINTS]) * np.exp(-QRG_MAX ** 2 / 3.0)
    below = np.flatnonzero(_running_mean(intensity, SMOOTHING) < level)
    count = max(GUINIER_MIN_POINTS, int(below[0]) if len(below) else len(q))
    seen = set()
    for _ in range(GUINIER_ITERATIONS):
        slope, slope_var = _line(x[:count], y[:count], weight[:count])
        if slope >= 0:  # rising at the lowest q: aggregation or a structure factor, not a Guinier region
            raise UserError("guinier: ln I rises with q^2 at the lowest q; the curve has no Guinier region")
        rg = np.sqrt(-3.0 * slope)
        allowed = max(GUINIER_MIN_POINTS, int(np.searchsorted(q, QRG_MAX / rg, side="right")))
        if allowed == count or allowed in seen:
            break
        seen.add(count)
        count = allowed
    error = np.sqrt(3.0 * slope_var) / (2.0 * np.sqrt(-slope))  # d sqrt(-3 s) = 3 ds / (2 sqrt(-3 s))
    return float(SPHERE_RG * rg), float(SPHERE_RG * error)


def first_minimum_radius(q: np.ndarray, intensity: np.ndarray,
                         sigma: np.ndarray | None = None) -> tuple[float, float]:
    """A sphere's radius from the first minimum of ``I q^4``, and its standard error (both in A).

    The minimum is looked for beyond the Guinier region's end (q Rg > 1.3,
    Rg from :func:`guinier_radius` where it can be had, else from the start).
    """
    q, intensity, sigma = _arrays(q, intensity, sigma)
    flat = _running_mean(intensity * q ** 4, SMOOTHING)
    try:
        rg = guinier_radius(q, intensity, sigma)[0] / SPHERE_RG
        start = int(np.searchsorted(q, QRG_MAX / rg))
    except UserError:
        start = 1
    start = max(start, 1)
    for i in range(start, len(q) - 1):
        if flat[i] < flat[i - 1] and flat[i] <= flat[i + 1]:
            break
    else:
        raise UserError("first_minimum: I q^4 has no local minimum within the q range; "
                        "the particles are too small for it (measure to larger q)")
    lq = np.log(q[i - 1:i + 2])
    a, b, _ = np.polyfit(lq - lq[1], flat[i - 1:i + 2], 2)
    shift = float(np.clip(-b / (2 * a), lq[0] - lq[1], lq[2] - lq[1])) if a > 0 else 0.0
    q_min = float(q[i] * np.exp(shift))
    radius = FIRST_ZERO / q_min
    step = 0.5 * (lq[2] - lq[0]) / 2  # half a grid step in ln q
    return float(radius), float(radius * step / np.sqrt(3.0))  # uniform over one step


def _arrays(q, intensity, sigma):
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    intensity = np.asarray(intensity, dtype=np.float64).reshape(-1)
    sigma = np.ones_like(intensity) if sigma is None else np.asarray(sigma, dtype=np.float64).reshape(-1)
    if not (len(q) == len(intensity) == len(sigma)):
        raise UserError(f"curve: q, I and dI must have one value per point; received {len(q)}, "
                        f"{len(intensity)} and {len(sigma)}")
    if len(q) and (np.any(np.diff(q) <= 0) or q[0] <= 0):
        raise UserError("curve: q must be positive and increasing")
    if np.any(~np.isfinite(intensity)) or np.any(~(sigma > 0)):
        raise UserError("curve: I must be finite and dI > 0")
    return q, intensity, sigma


def _line(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """The slope of the weighted straight line through (x, y) and its variance."""
    design = np.stack([np.ones_like(x), x], axis=1)
    normal = design.T @ (design * weight[:, None])
    coefficients = np.linalg.solve(normal, design.T @ (weight * y))
    residual = y - design @ coefficients
    dof = max(len(x) - 2, 1)
    scale = max(float(weight @ residual ** 2) / dof, 1.0)  # inflate by a poor fit, never shrink
    covariance = np.linalg.inv(normal) * scale
    return float(coefficients[1]), float(covariance[1, 1])


def _running_mean(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    kernel = np.ones(width) / width
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")
