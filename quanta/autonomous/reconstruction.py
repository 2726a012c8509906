"""The map a scan gives: a Gaussian process through the measured features, and its error.

Every strategy's map is made the same way, so that the comparison is of where
the points were measured and nothing else: BoTorch's ``SingleTaskGP``
(:func:`quanta.bayesopt.surrogate.fit_surrogate`: Matérn-5/2, inputs
normalised to the sample, outputs standardised) through the successful
features, each with its own standard error as fixed noise, evaluated on a
``grid x grid`` image of pixel centres.

The *map error* is the root-mean-square difference (A) between that mean and
the reference field over the image: by default the feature a noise-free
measurement would read at each pixel (so the error measures the scan, not the
feature's own bias, e.g. the Guinier radius of a polydisperse sample being the
z-average), or the sample's true mean radius (``reference: radius``; always
for ``fitted_radius``, whose noise-free least-squares fit of the exact model is
that radius, and which would cost 0.2 s a pixel). Pixels where the noise-free
feature cannot be read are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.autonomous.beamline import Beamline
from quanta.autonomous.features import read_feature
from quanta.autonomous.sample import Sample

#: the fewest successful measurements a map is made from
FEWEST = 3

#: the reference fields a map is compared with
REFERENCES = ("feature", "radius")


@dataclass(frozen=True)
class Map:
    """A reconstructed map: mean and standard deviation (A), each shape ``(grid, grid)``."""

    mean: np.ndarray
    sd: np.ndarray


def reconstruct(points: np.ndarray, values: np.ndarray, sigmas: np.ndarray, sample: Sample,
                grid: int, seed: int) -> Map | None:
    """The GP map from ``points`` (n, 2) mm, ``values`` (n,) and ``sigmas`` (n,) in A.

    None when fewer than :data:`FEWEST` points are given.
    """
    from quanta.bayesopt.surrogate import fit_surrogate, one_thread, posterior_mean_sd

    if len(values) < FEWEST:
        return None
    with one_thread():
        model = fit_surrogate(np.asarray(points, float), np.asarray(values, float), sample.bounds,
                              np.asarray(sigmas, float), seed)
        mean, sd = posterior_mean_sd(model, sample.grid(grid))
    return Map(mean.reshape(grid, grid), sd.reshape(grid, grid))


def reference_field(sample: Sample, beamline: Beamline, feature: str, reference: str,
                    grid: int) -> np.ndarray:
    """The field a map is compared with, shape ``(grid, grid)`` in A (NaN where unreadable)."""
    pixels = sample.grid(grid)
    if reference == "radius" or feature == "fitted_radius":  # a noise-free fit of the exact model
        return sample.radius(pixels).reshape(grid, grid)
    values = np.full(len(pixels), np.nan)
    for i, pixel in enumerate(pixels):
        read = read_feature(feature, beamline.noise_free(sample, pixel))
        if read is not None:
            values[i] = read[0]
    return values.reshape(grid, grid)


def map_error(estimate: Map | None, truth: np.ndarray) -> float | None:
    """The RMSE (A) of the map's mean against ``truth`` over its finite pixels (None: no map)."""
    if estimate is None:
        return None
    finite = np.isfinite(truth)
    return float(np.sqrt(np.mean((estimate.mean[finite] - truth[finite]) ** 2)))
