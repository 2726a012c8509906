"""Small-angle X-ray / neutron scattering of dilute particles, computed with sasmodels.

The public entry point is :func:`saxs`. Files: ``shapes`` (the shapes and how
their parameters are drawn), ``kernels`` (sasmodels on the CPU), ``grid`` (q
grids, pinhole smearing, detector geometry), ``generate`` (chunked parallel
evaluation), ``counting`` (Poisson statistics), ``images`` (2D detector
images), ``display`` (the figure of ``quanta datasets show saxs``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached
from quanta.simulators.saxs.shapes import PARAMETER_NAMES, SHAPES

ShapeName = Literal["sphere", "cylinder", "core_shell_sphere", "ellipsoid", "flexible_cylinder"]
Shapes = Annotated[tuple[ShapeName, ...], Field(min_length=1, description=f"a non-empty list of {', '.join(SHAPES)}")]


@checked
def saxs(
    view: Literal["curve", "saxs2d"] = "curve",
    target: Literal["shape", "radius", "parameters"] = "shape",
    size: Annotated[int, Field(ge=2, description="an integer >= 2 (samples in total)")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    shapes: Shapes = ("sphere", "cylinder", "core_shell_sphere", "ellipsoid", "flexible_cylinder"),
    radius_min: Annotated[float, Field(gt=0, description="a radius in A > 0")] = 20.0,
    radius_max: float = 200.0,
    polydispersity: Annotated[float, Field(ge=0, le=0.5, description="a relative width in [0, 0.5]")] = 0.1,
    distribution: Literal["schulz", "gaussian"] = "schulz",
    q_min: Annotated[float, Field(gt=0, allow_inf_nan=False, description="a q in 1/A > 0")] = 0.005,
    q_max: float = 0.5,
    n_q: Annotated[int, Field(ge=4, le=10_000, description="an integer in [4, 10000]")] = 128,
    dq_over_q: Annotated[float, Field(ge=0, le=0.2, description="a relative resolution in [0, 0.2]")] = 0.05,
    background: Annotated[float, Field(ge=0, allow_inf_nan=False, description="an intensity in 1/cm >= 0")] = 1e-3,
    flux: Annotated[float, Field(gt=0, description="counts per 1/cm > 0 (inf: no noise)")] = 1e5,
    image_pixels: Annotated[int, Field(ge=4, le=1024, description="an integer in [4, 1024]")] = 64,
    image_q_max: float = 0.25,
    downsample: int = 2,
    beamstop: Annotated[float, Field(ge=0, allow_inf_nan=False, description="a radius in 1/A >= 0")] = 0.02,
    workers: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = all cores)")] = 0,
    progress: bool = True,
) -> Dataset:
    """Small-angle scattering curves I(q) from sasmodels (sphere, cylinder, core-shell, ellipsoid) and 2D detector images

    Small-angle X-ray or neutron scattering (SAXS/SANS) measures how much a
    sample scatters at small angles, as a function of the momentum transfer
    q = 4 pi sin(theta) / lambda (2 theta: the scattering angle). For a dilute
    suspension of particles, I(q) = phi * V * (Delta rho)^2 * P(q) + B: the
    volume fraction phi, the particle volume V, the scattering-length-density
    contrast Delta rho to the solvent, and the form factor P(q) (P(0) = 1),
    which encodes the particle's shape and size - the Guinier law at small q
    (ln I falls as -q^2 Rg^2 / 3), then fringes and a power-law decay whose
    slope tells spheres (q^-4) from rods (q^-1) and chains (q^-2). The task of
    the lectures: which shape, and how large, from a noisy curve or image.

    What is simulated:
        Each sample is one particle shape (see ``shapes``) with parameters
        drawn at random (sizes in Angstrom, A; SLDs in 1e-6 A^-2; ranges in
        :mod:`quanta.simulators.saxs.shapes`): a main radius R log-uniform in
        [radius_min, radius_max], the shape's other sizes relative to R (rods
        with L/2R in 2-10, prolate and oblate ellipsoids with axis ratio
        1.6-4, core-shell spheres with a shell of 0.2-0.6 R and a different
        contrast, worm-like chains of 3-30 Kuhn lengths), contrast
        Delta rho in [1, 5], volume fraction in [1e-3, 1e-2]. I(q) in cm^-1
        is the sasmodels form factor, orientation-averaged for anisotropic
        shapes, averaged over a Schulz (or Gaussian) distribution of R of
        relative width ``polydispersity``, smeared by a pinhole resolution
        with Gaussian width dq = dq_over_q * q, plus a flat background
        ``background * 3^U[-1, 1]`` cm^-1. The counts in each q bin (each
        pixel) are Poisson with mean ``flux * I``. Classes are balanced and
        rows shuffled with ``seed``.

    Classes (``target="shape"``): ``y`` int64 = index of the shape in
    ``shapes`` (``classes``; default 0 sphere, 1 cylinder, 2
    core_shell_sphere, 3 ellipsoid, 4 flexible_cylinder).
    Regression targets: ``target="radius"`` - ``y`` float32[N], the main
    radius R in A (sphere radius, cylinder or chain cross-section radius,
    core radius, equatorial radius); ``target="parameters"`` - ``y``
    float32[N, 9] in the order radius, length, radius_polar,
    shell_thickness, kuhn_length (A), contrast, shell_contrast (1e-6 A^-2),
    volume_fraction, background (cm^-1); 0 where a parameter does not apply
    (length: cylinder length or chain contour length).

    Views (``x`` is float32 in both):
        ``curve`` - ``x[N, n_q]`` = log10 of the measured I(q) in cm^-1 on a
            log-spaced grid from q_min to q_max (1/A), the extra array
            ``q[N, n_q]``; a bin with zero counts reads log10(0.5 / flux).
            Extra arrays ``intensity`` (measured I, cm^-1), ``sigma`` (its
            Poisson uncertainty) and ``intensity_true`` (the noise-free
            smeared I), all float32[N, n_q]. The absolute scale phi V
            (Delta rho)^2 spans five decades; the shape is in the form of the
            curve, so ``x - x[:, :1]`` (log I relative to the first point) is
            the better input for decision trees (0.95 vs 0.80 accuracy at
            10,000 curves); standardised inputs serve networks.
        ``saxs2d`` - pairs for super-resolution and denoising. ``x[N, 1, h,
            h]``, h = image_pixels / downsample: log10 I measured by a
            counting detector with pixels of side 2 image_q_max / h and a
            beam stop; ``target_image[N, 1, H, H]``, H = image_pixels: log10
            of the noise-free I on a detector with pixels of side
            2 image_q_max / H;
            ``detector_mask`` bool[N, 1, h, h], False behind the beam stop.
            Both detectors span -Q <= q_x, q_y <= Q, Q = image_q_max, with
            the beam at the centre; pixel (i, j) of an n-pixel image has its
            centre at q_x = (2j + 1 - n) Q / n, q_y = (2i + 1 - n) Q / n
            (``quanta.simulators.saxs.grid.pixel_q``) and shows I(|q|) there
            (isotropic sample). Flux is per target-size pixel, so an input
            pixel collects downsample^2 times more counts.
        Both views carry ``shape`` int64[N], ``radius`` float32[N] and
        ``parameters`` float32[N, 9] whatever the target.

    Args:
        view: which representation ``x`` holds (see Views).
        target: which array becomes ``y``: shape class, radius, or parameters.
        size: number of samples (>= 2).
        seed: seeds the parameters, classes and counting noise.
        shapes: the particle shapes (classes), in label order.
        radius_min, radius_max: range of the main radius R in A (log-uniform).
        polydispersity: relative width sigma_R / R of the size distribution
            (0 to 0.5; 0: identical particles, sharp fringes).
        distribution: size distribution, Schulz (skewed, always positive) or Gaussian.
        q_min, q_max, n_q: the curve's q grid in 1/A (log-spaced). The defaults
            cover a standard SAXS camera: 0.005-0.5 1/A, i.e. real-space sizes
            pi / q from ~6 to ~600 A.
        dq_over_q: pinhole resolution dq / q (1 sigma, 0 to 0.2; 0: none);
            a few per cent is typical of SAXS, 5-15 % of SANS.
        background: median flat background in cm^-1 (solvent, cell, detector noise).
        flux: expected counts per cm^-1 in one q bin or one target pixel;
            ``inf`` gives noise-free data. At 1e5 the default background
            gives ~100 counts (10 % noise) per bin.
        image_pixels: side H of the target image (saxs2d view; >= 4, divisible by downsample).
        image_q_max: half the side of the square detector in 1/A (0 < image_q_max <= q_max / sqrt 2,
            so that the corners lie within the curve's q range);
            the default puts the fringes of 20-200 A particles on the detector
            and resolves them in the target image.
        downsample: binning factor from target to input image (1: denoising only).
        beamstop: beam-stop radius in 1/A (saxs2d input; 0: none).
        workers: processes evaluating the models; 0 uses every available core.
            The result does not depend on it.
        progress: show a progress bar for large data sets.

    The sasmodels evaluations are cached per (seed, size, shapes, radius
    range, polydispersity, q grid and its extension for the resolution) in
    ``$QUANTA_CACHE`` (default ``~/.cache/quanta``); background, counting
    noise, images and targets are computed from the cache, so changing them
    (or the view) is fast. Evaluating the models runs at ~300 samples/s on
    two cores (cylinders and ellipsoids dominate: their orientation averages).

    References:
        A. Guinier, G. Fournet, "Small-Angle Scattering of X-Rays", Wiley (1955).
        O. Glatter, O. Kratky (eds.), "Small Angle X-ray Scattering", Academic
        Press (1982) - form factors, the Guinier and Porod laws.
        J. S. Pedersen, "Analysis of small-angle scattering data from colloids
        and polymer solutions", Adv. Colloid Interface Sci. 70 (1997) 171.
        J. S. Pedersen, P. Schurtenberger, Macromolecules 29 (1996) 7602
        (flexible cylinder).
        J. G. Barker, J. S. Pedersen, J. Appl. Cryst. 28 (1995) 105 (pinhole resolution).
        sasmodels / SasView, https://www.sasview.org (the model library).
    """
    _check_between(shapes, radius_min, radius_max, q_min, q_max, image_pixels, image_q_max, downsample)
    from quanta.simulators.saxs import generate
    from quanta.simulators.saxs.counting import count, log_intensity
    from quanta.simulators.saxs.grid import calculation_grid, smearing_matrix
    from quanta.simulators.saxs.shapes import sample_parameters

    shapes = tuple(shapes)
    label, parameters = sample_parameters(shapes, size, seed, radius_min, radius_max, background)
    q_calc, picks = calculation_grid(q_min, q_max, n_q, dq_over_q)
    physics = {"version": generate.generator_version(), "seed": int(seed), "size": int(size),
               "shapes": list(shapes), "radius_min": float(radius_min), "radius_max": float(radius_max),
               "polydispersity": float(polydispersity), "distribution": distribution,
               "q_min": float(q_min), "q_max": float(q_max), "n_q": int(n_q), "q_calc_points": len(q_calc)}

    def build() -> dict[str, np.ndarray]:
        return {"intensity": generate.simulate(shapes, label, parameters, q_calc, polydispersity, distribution,
                                               workers=workers, progress=progress)}

    unit = cached("saxs", physics, build)["intensity"]
    phi = parameters[:, PARAMETER_NAMES.index("volume_fraction")]
    flat = parameters[:, PARAMETER_NAMES.index("background")]
    intensity = phi[:, None] * unit.astype(np.float64) + flat[:, None]  # [N, M] cm^-1 on q_calc

    arrays: dict[str, np.ndarray] = {
        "shape": label,
        "radius": parameters[:, 0].astype(np.float32),
        "parameters": parameters.astype(np.float32),
    }
    if view == "curve":
        q = q_calc[picks]
        true = intensity @ smearing_matrix(q_calc, q, dq_over_q)  # [N, n_q]
        measured, sigma = count(true, flux, np.random.default_rng(np.random.SeedSequence([seed, 1])))
        arrays.update(x=log_intensity(measured, flux), q=np.broadcast_to(q.astype(np.float32), true.shape).copy(),
                      intensity=measured.astype(np.float32), sigma=sigma.astype(np.float32),
                      intensity_true=true.astype(np.float32))
        names = [f"log10_I_q{value:.4g}" for value in q]
    else:
        from quanta.simulators.saxs.images import detector_images

        arrays.update(detector_images(intensity, q_calc, image_q_max, image_pixels, downsample, dq_over_q, flux,
                                      beamstop, np.random.default_rng(np.random.SeedSequence([seed, 2]))))
        names = ["log10_I"]
    arrays["y"] = {"shape": label, "radius": arrays["radius"], "parameters": arrays["parameters"]}[target]
    info: dict[str, Any] = {"view": view, "target": target, "size": size, "seed": seed, "shapes": list(shapes),
                            "radius_min": radius_min, "radius_max": radius_max,
                            "polydispersity": polydispersity, "distribution": distribution, "q_min": q_min,
                            "q_max": q_max, "n_q": n_q, "dq_over_q": dq_over_q, "background": background,
                            "flux": flux, "image_pixels": image_pixels, "image_q_max": image_q_max,
                            "downsample": downsample,
                            "beamstop": beamstop, "workers": workers, "progress": progress,
                            "generator": generate.generator_version()}
    classes = list(shapes) if target == "shape" else None
    return Dataset(arrays=arrays, name="saxs", feature_names=names, classes=classes, info=info)


def _check_between(shapes: tuple[str, ...], radius_min: float, radius_max: float, q_min: float, q_max: float,
                   image_pixels: int, image_q_max: float, downsample: int) -> None:
    """The constraints between parameters (each one's own range is declared in its type hint)."""
    if len(set(shapes)) != len(shapes):
        raise UserError(f"saxs: shapes must not repeat a shape; received {shapes!r}")
    problems = [
        ("radius_max", radius_max, math.isfinite(radius_max) and radius_max >= radius_min,
         f"a finite radius in A >= radius_min = {radius_min}"),
        ("q_max", q_max, math.isfinite(q_max) and q_max > q_min, f"a finite q in 1/A above q_min = {q_min}"),
        ("image_q_max", image_q_max, 0 < image_q_max * math.sqrt(2) <= q_max,
         f"a q in 1/A in (0, q_max / sqrt(2) = {q_max / math.sqrt(2):.4g}] (detector corners within the curve)"),
        ("downsample", downsample, downsample >= 1 and image_pixels % downsample == 0
         and image_pixels // downsample >= 2, f"an integer >= 1 dividing image_pixels = {image_pixels} into >= 2 pixels"),
    ]
    for name, value, ok, allowed in problems:  # checked in order: a later test may assume earlier ones
        if not ok:
            raise bad_param("saxs", name, allowed, value)


from quanta.simulators.saxs.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["saxs", "show"]
