"""Particle showers in a steel/scintillator sampling calorimeter, GFlash-style.

The public entry point is :func:`calorimeter`. Files: ``geometry`` (the
detector and its effective material constants), ``electromagnetic`` (GFlash
profiles of e and gamma showers), ``hadronic`` (pion showers), ``deposits``
(spots on the cell grid), ``readout`` (noise, zero suppression), ``generate``
(seeded chunks, parallel workers), ``views`` (image2d, image3d, features),
``display`` (the figure of ``quanta datasets show calorimeter``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached

ENERGY_RANGE = (0.1, 1000.0)  # GeV: the parametrisations are fitted from ~1 GeV to a few hundred GeV


@checked
def calorimeter(
    view: Literal["image2d", "image3d", "features"] = "image2d",
    target: Literal["particle", "energy"] = "particle",
    particles: Literal["e_pi", "e_gamma_pi"] = "e_pi",
    size: Annotated[int, Field(ge=2, description="an integer >= 2 (showers in total)")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    energy_min: Annotated[float, Field(ge=ENERGY_RANGE[0], le=ENERGY_RANGE[1],
                                       description=f"an energy in GeV in [{ENERGY_RANGE[0]}, {ENERGY_RANGE[1]}]")] = 1.0,
    energy_max: float = 100.0,
    pixels: Annotated[int, Field(ge=4, le=128, description="an integer in [4, 128] (cells across the face)")] = 32,
    layers: Annotated[int, Field(ge=1, le=100, description="an integer in [1, 100] (3 cm each)")] = 30,
    workers: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = all cores)")] = 0,
    progress: bool = True,
) -> Dataset:
    """Particle showers in a sampling calorimeter (GFlash-style): e, gamma, pi; views image2d, image3d, features

    Electrons, photons and charged pions hit a highly granular iron/scintillator
    sampling calorimeter at normal incidence; the data are the cell signals of
    their showers. Is it an electron or a pion (particle identification), and
    what was its energy (energy reconstruction)? Electromagnetic showers are
    short, narrow and regular; hadronic ones start at a random depth, are
    long, wide, clumpy, fluctuate a lot and give less signal for the same
    energy (e/h > 1). Networks that read the shower images learn both tasks.

    Detector (see ``geometry``): ``layers`` layers of 2.5 cm iron + 0.5 cm
    plastic scintillator (30 layers: 90 cm, 43 X0, 4.7 lambda_I), read out in
    ``pixels x pixels`` square tiles over a 48 cm x 48 cm face (32: 1.5 cm
    cells). Effective constants of the mixture: X0 = 2.09 cm, Moliere radius
    R_M = 1.99 cm, critical energy E_c = 22.3 MeV, lambda_I = 19.3 cm,
    Z_eff = 25.5, e/mip = 0.875; a MIP leaves 1 MIP = 34 MeV (EM scale) per layer.

    What is simulated:
        e and gamma - GFlash (Grindhammer & Peters): a Gamma-distributed
        longitudinal profile whose maximum moves as ln(E / E_c), with
        correlated shower-to-shower fluctuations of its depth and shape and the
        sampling-calorimeter corrections; photons start at their conversion
        point, Exp(9/7 X0) deep, so they peak ~1.3 X0 later and often leave the
        first layer empty. A core + tail radial profile in Moliere radii; the
        energy is deposited in spots (N ~ 41 E^0.959) placed at random from
        these profiles. Sampling fluctuations sigma/E = 25 %/sqrt(E/GeV).
        pi - a minimum-ionising track until the first inelastic interaction,
        Exp(1.2 lambda_I) deep (2 % cross the stack untouched); then a
        fluctuating electromagnetic fraction f_em (mean 1 - (E / 0.7 GeV)^-0.18)
        in a few displaced GFlash sub-showers, and a hadronic cascade with a
        Bock-type profile in interaction lengths, widening with depth, clumpy,
        with e/h = 1.4 and extra fluctuations (see ``hadronic``). The 4.7
        lambda_I stack leaks ~5 % of a pion's energy on average, much more
        for showers that start late.
        Readout - Gaussian noise of 0.13 MIP per cell, cells below 0.5 MIP
        suppressed (~2 noise hits per shower). Signals are in GeV at the
        electromagnetic scale: an electron's cells sum to its energy (sigma/E
        ~ 25 %/sqrt(E) plus threshold losses below ~2 GeV), a pion's to ~75 %
        of it (sigma/E ~ 20 % from 10 to 100 GeV).
        The impact point is uniform in a 2 cm x 2 cm beam spot at the centre.

    Classes (``target="particle"``): ``particles="e_pi"`` - y = 0 "e",
    1 "pi"; ``"e_gamma_pi"`` - 0 "e", 1 "gamma", 2 "pi". Equal numbers of
    each, rows shuffled with ``seed``. Regression (``target="energy"``): y is
    the true energy in GeV (float32). Energies are log-uniform in
    [energy_min, energy_max] (equal bounds: a mono-energetic beam).

    Views (``x`` float32 in every view; signals in GeV):
        ``image2d`` - ``x[N, 1, P, P]``, the cells summed over depth; axes (y, x).
        ``image3d`` - ``x[N, 1, L, P, P]``, every cell; axes (layer, y, x). Dense:
            4 L P^2 bytes per shower (123 kB by default, 1.2 GB for 10,000).
        ``features`` - ``x[N, L + 8]``: total_energy; e_layer_00 ... the
            signal of each layer; depth_mean and depth_std, the signal-weighted
            mean and RMS layer index (layers); width, the RMS distance of the
            signal from the shower axis (cm); core_fraction, the share within
            2.5 cm of the axis; max_cell_fraction; n_hits, the cells above
            threshold; start_layer, the first layer with a shower-like signal.

    Extra arrays (every view): ``energy`` float32[N], true energy (GeV);
    ``particle`` int64[N], the class index; ``impact`` float32[N, 2], entry
    point (x, y) in cm; ``start_depth`` float32[N], where the shower started
    (cm; 0 for electrons, the conversion depth for photons, the first
    interaction for pions - beyond the back when there was none);
    ``em_fraction`` float32[N], the electromagnetic fraction (1 for e, gamma).

    Args:
        view: which representation ``x`` holds (see Views).
        target: ``"particle"`` (class labels) or ``"energy"`` (regression).
        particles: which particle types, ``"e_pi"`` or ``"e_gamma_pi"``.
        size: total number of showers (>= 2), shared equally among the types.
        seed: seeds every random draw (per particle type and chunk) and the row shuffle.
        energy_min, energy_max: true energy range in GeV, 0.1 <= min <= max <= 1000.
        pixels: cells across the 48 cm face in each direction (4 ... 128).
        layers: sampling layers, 3 cm each (1 ... 100); fewer layers, more leakage.
        workers: generation processes; 0 uses every available core. The result
            does not depend on it.
        progress: show a progress bar (plain lines when stdout is not a terminal)
            when generating 20,000 showers or more (~7,000 showers/s per core).

    Generation is cached per (seed, size, particles, energy range, pixels,
    layers, generator version) in ``$QUANTA_CACHE`` (default
    ``~/.cache/quanta``) as the sparse zero-suppressed readout; all views and
    targets are computed from it, so switching them never re-simulates.

    References:
        G. Grindhammer, S. Peters, "The parameterized simulation of
        electromagnetic showers in homogeneous and sampling calorimeters",
        hep-ex/0001020 (profiles, fluctuations, spots, sampling corrections).
        G. Grindhammer, M. Rudowicz, S. Peters, "The fast simulation of
        electromagnetic and hadronic showers", NIM A290 (1990) 469.
        R. K. Bock, T. Hansl-Kozanecka, T. P. Shah, "Parametrization of the
        longitudinal development of hadronic showers in sampling
        calorimeters", NIM 186 (1981) 533.
        R. Wigmans, "Calorimetry: Energy Measurement in Particle Physics",
        2nd ed., Oxford University Press (2017): e/h, f_em, sampling fluctuations.
        Particle Data Group, "Passage of particles through matter" and the
        atomic and nuclear properties tables (material constants).
        CALICE collaboration, JINST 7 (2012) P09017 (steel/scintillator
        AHCAL; tiles, thresholds, electron resolution).
    """
    if not energy_min <= energy_max <= ENERGY_RANGE[1]:
        raise bad_param("calorimeter", "energy_max", f"an energy in GeV in [energy_min = {energy_min}, "
                        f"{ENERGY_RANGE[1]}]", energy_max)
    from quanta.simulators.calorimeter import generate, views
    from quanta.simulators.calorimeter.geometry import Calorimeter

    physics = {"version": generate.GENERATOR_VERSION, "seed": int(seed), "size": int(size),
               "particles": particles, "energy_min": float(energy_min), "energy_max": float(energy_max),
               "pixels": int(pixels), "layers": int(layers)}

    def build_raw() -> dict[str, np.ndarray]:
        return generate.simulate(size, seed, particles, float(energy_min), float(energy_max), layers, pixels,
                                 workers=workers, progress=progress)

    raw = cached("calorimeter", physics, build_raw)
    detector = Calorimeter(layers=layers, pixels=pixels)
    names: list[str] | None = None
    if view == "image2d":
        x = views.image2d(raw, detector)
    elif view == "image3d":
        x = views.image3d(raw, detector)
    else:
        x = views.features(raw, detector)
        names = views.feature_names(layers)
    truth = {"energy": raw["energy"], "particle": raw["particle"], "impact": raw["impact"],
             "start_depth": raw["start_depth"], "em_fraction": raw["em_fraction"]}
    y = raw["particle"] if target == "particle" else raw["energy"].astype(np.float32)
    info: dict[str, Any] = {"view": view, "target": target, "particles": particles, "size": size, "seed": seed,
                            "energy_min": energy_min, "energy_max": energy_max, "pixels": pixels,
                            "layers": layers, "workers": workers, "progress": progress,
                            "generator": generate.GENERATOR_VERSION}
    classes = list(generate.PARTICLE_SETS[particles]) if target == "particle" else None
    return Dataset(arrays={"x": x, "y": y, **truth}, name="calorimeter", feature_names=names, classes=classes,
                   info=info)


from quanta.simulators.calorimeter.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["calorimeter", "show"]
