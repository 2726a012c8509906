"""The feature read from each measured curve, with its standard error from counting statistics.

- ``guinier_radius``: the Guinier law's sphere radius
  (:func:`quanta.inference.size_estimates.guinier_radius`); for a polydisperse
  sample it is the z-average ``sqrt(<R^8>/<R^6>)``, not the mean radius.
- ``first_minimum_radius``: from the first minimum of ``I q^4``
  (:func:`quanta.inference.size_estimates.first_minimum_radius`).
- ``fitted_radius``: the radius of a least-squares sphere fit (radius,
  polydispersity, scale, background; :func:`quanta.inference.start.least_squares_start`),
  its error from the fit's covariance; some 0.2 s a curve instead of a millisecond.

A curve whose feature cannot be read (no Guinier region, no minimum in the q
range, a non-finite result) gives ``None``: the campaign records it as failed
and the Gaussian process skips it.
"""

from __future__ import annotations

import math

import numpy as np

from quanta.autonomous.beamline import Curve
from quanta.errors import UserError

#: the features by name
FEATURES = ("guinier_radius", "first_minimum_radius", "fitted_radius")


def read_feature(name: str, curve: Curve) -> tuple[float, float] | None:
    """The feature ``name`` of ``curve`` and its standard error (A), or None when it fails."""
    try:
        if name == "guinier_radius":
            from quanta.inference.size_estimates import guinier_radius

            value, error = guinier_radius(curve.q, curve.intensity, curve.sigma)
        elif name == "first_minimum_radius":
            from quanta.inference.size_estimates import first_minimum_radius

            value, error = first_minimum_radius(curve.q, curve.intensity, curve.sigma)
        else:
            value, error = _fitted_radius(curve)
    except (UserError, np.linalg.LinAlgError):
        return None
    if not (math.isfinite(value) and math.isfinite(error) and value > 0 and error > 0):
        return None
    return float(value), float(error)


def _fitted_radius(curve: Curve) -> tuple[float, float]:
    from quanta.inference.model import CurveModel
    from quanta.inference.start import least_squares_start

    model = CurveModel("sphere", curve.q, curve.intensity, np.maximum(curve.sigma, 1e-300))
    theta, errors = least_squares_start(model)
    return float(theta[0]), float(errors[0])  # the radius is sampled in A (not log10)
