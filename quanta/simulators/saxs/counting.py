"""Counting statistics: what a detector records for an expected intensity.

A detector counts photons (or neutrons). With an exposure ``flux`` - the
expected counts per unit intensity (1 cm^-1) in one q bin of a curve or one
pixel of an image - the counts are ``n ~ Poisson(flux * I)``; the measured
intensity is ``n / flux`` with standard uncertainty ``sqrt(n) / flux``, so the
relative error is ``1 / sqrt(flux * I)``: ten times the flux, a third of the
noise. ``flux = inf`` gives the noise-free intensity and zero uncertainty.

Inputs are log10 intensities. A bin that counted nothing has no logarithm; it
is shown at half a count, ``log10(0.5 / flux)`` (and noise-free intensities
below ``FLOOR`` at ``log10(FLOOR)``), which keeps inputs finite and reads as
"below one count".
"""

from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-6  # cm^-1: the smallest noise-free intensity shown in log10 inputs


def count(expected: np.ndarray, flux: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Measured intensity and its uncertainty for expected intensity ``expected`` (cm^-1).

    Returns float64 arrays shaped like ``expected``: ``n / flux`` and
    ``sqrt(max(n, 1)) / flux`` (a bin with no counts still has the uncertainty
    of one count).
    """
    if math.isinf(flux):
        return expected.astype(np.float64), np.zeros(expected.shape)
    counts = rng.poisson(np.maximum(expected, 0.0) * flux).astype(np.float64)
    return counts / flux, np.sqrt(np.maximum(counts, 1.0)) / flux


def log_intensity(intensity: np.ndarray, flux: float) -> np.ndarray:
    """log10 of a measured intensity, zero counts at half a count; float32."""
    floor = FLOOR if math.isinf(flux) else 0.5 / flux
    return np.log10(np.maximum(intensity, floor)).astype(np.float32)
