"""Where the walkers start: a cheap least-squares fit of the curve.

The chi-square surface of a polydisperse sphere has a minimum per fringe, so a
local optimiser alone can land on the wrong size. The start therefore scans a
grid of geometries (the main radius log-spaced over its prior, a few values
of each other geometric parameter; sizes only within what the q range
resolves, 0.5 / q_max to 4 pi / q_min, which also keeps the grid away from the
very long rods whose orientation average costs a second each) at a polydispersity of 0.1, solving for
scale and background exactly at each (they enter linearly, non-negative
least squares), then refines the best few with ``scipy.optimize.least_squares``
inside the prior box. The walkers start in a small Gaussian ball around the
optimum (its width from the least-squares covariance), so burn-in is short.
"""

from __future__ import annotations

import numpy as np

from quanta.inference.model import CurveModel

RADIUS_POINTS = 40  # grid of the main radius, log-spaced over its prior
OTHER_POINTS = 5  # grid of each other geometric parameter
REFINED = 3  # grid minima refined by least squares
START_POLYDISPERSITY = 0.1


def least_squares_start(model: CurveModel) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares optimum in sampling coordinates [p] and its standard errors [p]."""
    from scipy.optimize import least_squares

    k = len(model.shape.geometry)
    candidates = []
    for geometry in _grid(model):
        polydispersity = float(np.clip(START_POLYDISPERSITY, model.low[k], model.high[k]))
        unit = model.unit_intensity(geometry, polydispersity)
        scale, background, chi2 = _linear_fit(unit, model.intensity, model.sigma)
        theta = model.sampling(np.array([*geometry, polydispersity, scale, background]))
        candidates.append((chi2, np.clip(theta, model.low, model.high)))
    candidates.sort(key=lambda pair: pair[0])

    def residuals(theta: np.ndarray) -> np.ndarray:
        return (model.intensity - model.intensity_at(theta)) / model.sigma

    span = model.high - model.low
    best = None
    for _, theta in candidates[:REFINED]:
        inside = np.clip(theta, model.low + 1e-6 * span, model.high - 1e-6 * span)
        result = least_squares(residuals, inside, bounds=(model.low, model.high), x_scale=span / 10)
        if best is None or result.cost < best.cost:
            best = result
    jacobian = best.jac
    covariance = np.linalg.pinv(jacobian.T @ jacobian)
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    return best.x, errors


def _grid(model: CurveModel) -> list[np.ndarray]:
    smallest, largest = 0.5 / float(model.q.max()), 4 * np.pi / float(model.q.min())  # A, resolved sizes
    axes = []
    for index, parameter in enumerate(model.shape.geometry):
        low, high = model.low[index], model.high[index]
        if parameter.unit == "A":
            low_size, high_size = (10.0 ** np.array([low, high])) if parameter.log else (low, high)
            low_size, high_size = max(low_size, smallest), min(high_size, largest)
            if low_size < high_size:
                low, high = (np.log10(low_size), np.log10(high_size)) if parameter.log else (low_size, high_size)
        points = RADIUS_POINTS if index == 0 else OTHER_POINTS
        if parameter.log:
            axes.append(10.0 ** np.linspace(low, high, points + 2)[1:-1])
        elif low > 0:
            axes.append(np.geomspace(low, high, points + 2)[1:-1])
        else:
            axes.append(np.linspace(low, high, points + 2)[1:-1])
    mesh = np.meshgrid(*axes, indexing="ij")
    return [np.array(values) for values in zip(*(m.ravel() for m in mesh), strict=True)]


def _linear_fit(unit: np.ndarray, intensity: np.ndarray, sigma: np.ndarray) -> tuple[float, float, float]:
    """Non-negative scale and background minimising chi-square for a fixed shape, and that chi-square."""
    from scipy.optimize import nnls

    design = np.stack([unit / sigma, 1.0 / sigma], axis=1)  # [n, 2]
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    coefficients, residual = nnls(design / norms, intensity / sigma)
    scale, background = coefficients / norms
    return max(float(scale), 1e-300), float(background), float(residual) ** 2
