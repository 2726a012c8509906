"""The particle shapes of the saxs source and how their parameters are drawn.

Each shape is one sasmodels form factor. A sample is a dilute suspension of
identical-in-kind particles in water: its parameters are drawn independently
per sample from the ranges below (``size`` samples, classes balanced). Sizes
are in Angstrom (A), scattering-length densities (SLD) in 1e-6 A^-2, as in
sasmodels and SasView.

The *main radius* ``R`` is log-uniform in ``[radius_min, radius_max]`` and is
the size that carries the polydispersity:

===================  ==========================  ======================================================
shape                main radius R               other parameters (drawn per sample)
===================  ==========================  ======================================================
sphere               radius                      -
cylinder             cross-section radius        length L = 2R * a, aspect a log-uniform in [2, 10]
core_shell_sphere    core radius                 shell thickness t = R * U[0.2, 0.6]; shell contrast =
                                                 core contrast * c, c ~ U[-1, -0.25] (opposite sign, as
                                                 for micelles in X-rays) or U[1.5, 3] (a denser coat),
                                                 each with probability 1/2
ellipsoid            equatorial radius           polar radius R * e, e log-uniform in [1.6, 4] (prolate)
                                                 or its inverse [1/4, 1/1.6] (oblate), each 1/2
flexible_cylinder    cross-section radius        Kuhn length b = R * 10^U[1, 1.5]; contour length
                                                 L = b * 10^U[0.5, 1.5] (3 to 30 Kuhn lengths)
===================  ==========================  ======================================================

Every sample also gets: SLD contrast to the solvent ``contrast`` ~ U[1, 5]
(solvent: water for Cu K-alpha X-rays, 9.47); volume fraction ``phi``
log-uniform in [1e-3, 1e-2] (dilute: no structure factor); flat background
``B = background * 3^U[-1, 1]`` in cm^-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOLVENT_SLD = 9.47  # water for Cu K-alpha X-rays, 1e-6 A^-2
CONTRAST = (1.0, 5.0)  # particle - solvent SLD, 1e-6 A^-2
VOLUME_FRACTION = (1e-3, 1e-2)  # log-uniform; dilute, so I = phi * P(q) without S(q)
BACKGROUND_SPREAD = 3.0  # each sample's background is background * 3^U[-1, 1]
CYLINDER_ASPECT = (2.0, 10.0)  # L / 2R, log-uniform: rods
SHELL_FRACTION = (0.2, 0.6)  # shell thickness / core radius
SHELL_CONTRAST_OPPOSITE = (-1.0, -0.25)  # shell / core contrast ratio, first branch
SHELL_CONTRAST_DENSER = (1.5, 3.0)  # second branch
ELLIPSOID_RATIO = (1.6, 4.0)  # polar / equatorial radius, log-uniform, or its inverse
KUHN_OVER_RADIUS = (1.0, 1.5)  # log10 of Kuhn length / R
LENGTH_OVER_KUHN = (0.5, 1.5)  # log10 of contour length / Kuhn length

# The order of the "parameters" target (0 where a parameter does not apply to a shape).
PARAMETER_NAMES = ("radius", "length", "radius_polar", "shell_thickness", "kuhn_length", "contrast",
                   "shell_contrast", "volume_fraction", "background")
PARAMETER_UNITS = ("A", "A", "A", "A", "A", "1e-6/A^2", "1e-6/A^2", "", "1/cm")


@dataclass(frozen=True)
class Shape:
    """One particle shape: its sasmodels model and which parameter is the main radius."""

    model: str  # the sasmodels model name
    main_radius: str  # the sasmodels parameter holding R (it carries the polydispersity)


SHAPES: dict[str, Shape] = {
    "sphere": Shape("sphere", "radius"),
    "cylinder": Shape("cylinder", "radius"),
    "core_shell_sphere": Shape("core_shell_sphere", "radius"),
    "ellipsoid": Shape("ellipsoid", "radius_equatorial"),
    "flexible_cylinder": Shape("flexible_cylinder", "radius"),
}


def _column(name: str) -> int:
    return PARAMETER_NAMES.index(name)


def sample_parameters(shapes: tuple[str, ...], size: int, seed: int, radius_min: float, radius_max: float,
                      background: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw the class and physical parameters of ``size`` samples.

    Returns ``label`` int64[N] (index into ``shapes``; classes balanced, rows
    shuffled) and ``parameters`` float64[N, 9] in :data:`PARAMETER_NAMES`
    order. Every random number is drawn for every row in a fixed order, so the
    result depends on ``(shapes, size, seed)`` and the ranges only.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    label = rng.permutation(np.arange(size) % len(shapes)).astype(np.int64)
    uniform = rng.random((size, 8))  # one column per random choice below, for every row

    def between(column: int, low: float, high: float) -> np.ndarray:
        return low + (high - low) * uniform[:, column]

    radius = np.exp(between(0, np.log(radius_min), np.log(radius_max)))
    contrast = between(1, *CONTRAST)
    phi = 10 ** between(2, *np.log10(VOLUME_FRACTION))
    flat = background * BACKGROUND_SPREAD ** between(3, -1.0, 1.0)
    first_branch = uniform[:, 5] < 0.5  # a fair coin for the two-branch choices

    parameters = np.zeros((size, len(PARAMETER_NAMES)))
    parameters[:, _column("radius")] = radius
    parameters[:, _column("contrast")] = contrast
    parameters[:, _column("volume_fraction")] = phi
    parameters[:, _column("background")] = flat
    for index, name in enumerate(shapes):
        rows = label == index
        r = radius[rows]
        if name == "cylinder":
            aspect = np.exp(between(4, *np.log(CYLINDER_ASPECT))[rows])
            parameters[rows, _column("length")] = 2 * r * aspect
        elif name == "core_shell_sphere":
            ratio = np.where(first_branch, between(6, *SHELL_CONTRAST_OPPOSITE),
                             between(6, *SHELL_CONTRAST_DENSER))[rows]
            parameters[rows, _column("shell_thickness")] = r * between(4, *SHELL_FRACTION)[rows]
            parameters[rows, _column("shell_contrast")] = contrast[rows] * ratio
        elif name == "ellipsoid":
            ratio = np.exp(between(4, *np.log(ELLIPSOID_RATIO))[rows])
            parameters[rows, _column("radius_polar")] = r * np.where(first_branch[rows], ratio, 1 / ratio)
        elif name == "flexible_cylinder":
            kuhn = r * 10 ** between(4, *KUHN_OVER_RADIUS)[rows]
            parameters[rows, _column("kuhn_length")] = kuhn
            parameters[rows, _column("length")] = kuhn * 10 ** between(7, *LENGTH_OVER_KUHN)[rows]
    return label, parameters


def sasmodels_parameters(name: str, row: np.ndarray) -> dict[str, float]:
    """The sasmodels keyword parameters of one sample, at unit volume fraction and no background.

    The volume fraction and the background are applied afterwards (``I = phi *
    I_unit + B``), so that they can change without evaluating the model again.
    """
    def value(parameter: str) -> float:
        return float(row[_column(parameter)])

    sld = SOLVENT_SLD + value("contrast")
    common = {"scale": 1.0, "background": 0.0, "sld_solvent": SOLVENT_SLD}
    if name == "sphere":
        return {**common, "sld": sld, "radius": value("radius")}
    if name == "cylinder":
        return {**common, "sld": sld, "radius": value("radius"), "length": value("length")}
    if name == "core_shell_sphere":
        return {**common, "sld_core": sld, "sld_shell": SOLVENT_SLD + value("shell_contrast"),
                "radius": value("radius"), "thickness": value("shell_thickness")}
    if name == "ellipsoid":
        return {**common, "sld": sld, "radius_equatorial": value("radius"), "radius_polar": value("radius_polar")}
    if name == "flexible_cylinder":
        return {**common, "sld": sld, "radius": value("radius"), "length": value("length"),
                "kuhn_length": value("kuhn_length")}
    raise ValueError(f"no sasmodels mapping for shape {name!r}")
