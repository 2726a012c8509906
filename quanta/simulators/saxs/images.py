"""2D detector images of isotropic samples, in pairs for super-resolution and denoising.

An isotropic sample (randomly oriented particles) scatters a pattern of rings:
every pixel sees I(|q|), the orientation-averaged curve, smeared by the same
pinhole resolution as the curve. The *target* is the noise-free image on a
fine H x H detector; the *input* is what a coarser, counting detector records:
pixels binned ``downsample`` x ``downsample`` (the mean intensity over the
block, i.e. its integral over the larger pixel), then Poisson counts with
``flux * downsample^2`` expected counts per unit intensity (a bigger pixel
collects more photons). A round beam stop of radius ``beamstop`` (1/A) hides
the direct beam: input pixels whose centre lies inside it count nothing.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.saxs.counting import count, log_intensity
from quanta.simulators.saxs.grid import detector_radii, pixel_q, smearing_matrix

BLOCK = 500  # images built per step, to bound memory


def detector_images(intensity: np.ndarray, q_calc: np.ndarray, q_max: float, pixels: int, downsample: int,
                    dq_over_q: float, flux: float, beamstop: float,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Input and target images of every sample.

    Args:
        intensity: float[N, M], each sample's I(q_calc) in cm^-1 (with volume
            fraction and background).
        q_calc: float64[M], the calculation grid.
        q_max: the detector reaches q_x, q_y = +-q_max at its edges; its corners
            must lie within the calculation grid (pixels nearer the beam than
            the grid's start take its first value).
        pixels: H, the side of the target image.
        downsample: binning factor f; the input has h = H / f pixels a side.
        dq_over_q: pinhole resolution (0: none).
        flux: expected counts per cm^-1 in one target-size pixel (inf: no noise).
        beamstop: radius in 1/A of the beam stop (0: none).
        rng: draws the counts.

    Returns:
        ``x`` float32[N, 1, h, h] log10 measured intensity; ``target_image``
        float32[N, 1, H, H] log10 noise-free intensity; ``detector_mask``
        bool[N, 1, h, h], False behind the beam stop.
    """
    radii, index = detector_radii(pixels, q_max)
    weights = smearing_matrix(q_calc, radii, dq_over_q)  # [M, K]
    small = pixels // downsample
    n = len(intensity)
    x = np.empty((n, 1, small, small), np.float32)
    target = np.empty((n, 1, pixels, pixels), np.float32)
    centres = pixel_q(small, q_max)
    measured = np.hypot(centres[:, None], centres[None, :]) >= beamstop  # [h, h]
    for start in range(0, n, BLOCK):
        rows = slice(start, min(start + BLOCK, n))
        fine = (intensity[rows].astype(np.float64) @ weights)[:, index]  # [B, H, H]
        target[rows, 0] = log_intensity(fine, np.inf)
        coarse = fine.reshape(-1, small, downsample, small, downsample).mean(axis=(2, 4))  # [B, h, h]
        coarse = coarse * measured
        observed, _ = count(coarse, flux * downsample**2, rng)
        x[rows, 0] = log_intensity(observed, flux * downsample**2)
    return {"x": x, "target_image": target,
            "detector_mask": np.broadcast_to(measured, (n, 1, small, small)).copy()}
