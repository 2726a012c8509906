"""Energy deposits per shower component and layer, and their spots on the cell grid.

Every shower is a sum of *components*: an electromagnetic cascade, the
hadronic part of a pion shower, a minimum-ionising track. A component says,
for each layer, how much visible energy it leaves there (after sampling
fluctuations), in how many *spots* that energy is deposited, and how far
from its axis the spots fall: a radial profile ``f(r) = p f_core(r) + (1 - p)
f_tail(r)`` with ``f_R(r) = 2 r R^2 / (r^2 + R^2)^2`` (GFlash's ansatz,
hep-ex/0001020 eq. 9). Spots are the last step: each is a point of equal
energy, placed at a random radius and azimuth around the component's axis
and added to the cell it falls in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from quanta.simulators.calorimeter.geometry import Calorimeter


@dataclass
class Deposits:
    """Components of one or more showers. Arrays ``[C]`` per component, ``[C, L]`` per component and layer.

    Lengths in cm, energies in GeV at the electromagnetic scale.
    """

    event: np.ndarray  # int64[C]: which shower of the chunk a component belongs to
    energy: np.ndarray  # float64[C, L]: visible energy per layer
    spots: np.ndarray  # int64[C, L]: number of spots sharing it
    r_core: np.ndarray  # float64[C, L]: core radius R_C of the radial profile
    r_tail: np.ndarray  # float64[C, L]: tail radius R_T
    p_core: np.ndarray  # float64[C, L]: fraction of spots drawn from the core
    axis: np.ndarray  # float64[C, 2]: (x, y) where the component's axis starts
    slope: np.ndarray  # float64[C, 2]: dx/dz, dy/dz of the axis
    z_start: np.ndarray  # float64[C]: depth where the axis starts

    @staticmethod
    def concatenate(parts: list[Deposits]) -> Deposits:
        return Deposits(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                           for f in fields(Deposits)})


def spot_counts(energy: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Spots per layer: ``wanted`` rounded up, at least one wherever energy was deposited."""
    return np.where(energy > 0, np.maximum(np.ceil(wanted), 1), 0).astype(np.int64)


def sampled(energy: np.ndarray, quantum: float, rng: np.random.Generator) -> np.ndarray:
    """Sampling fluctuations: visible energy ~ Gamma(mean ``energy``, variance ``quantum * energy``).

    The active layers see only a fraction of the shower's charged tracks; the
    count fluctuates, so the signal of a deposit E has variance ``a^2 E``
    (``quantum = a^2`` GeV), giving ``sigma/E = a / sqrt(E)`` for a whole
    shower. GFlash applies the same Gamma law per step (hep-ex/0001020 sec. 5).
    """
    return rng.gamma(np.maximum(energy, 0.0) / quantum, quantum)


def spots_to_cells(deposits: Deposits, detector: Calorimeter, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place every spot and sum spot energies per cell.

    Returns ``(event int64[H], cell int64[H], energy float64[H])``, one row per
    hit cell, sorted by event then cell; ``cell = layer * P^2 + row * P + column``
    with row along y and column along x (P = pixels). Spots outside the front
    face are lost (lateral leakage).
    """
    layers, pixels = detector.layers, detector.pixels
    component, layer = np.nonzero(deposits.spots)
    count = deposits.spots[component, layer]
    energy = deposits.energy[component, layer] / count  # each spot carries an equal share
    component, layer, energy = (np.repeat(a, count) for a in (component, layer, energy))

    core = rng.random(len(component)) < deposits.p_core[component, layer]
    radius_scale = np.where(core, deposits.r_core[component, layer], deposits.r_tail[component, layer])
    u = rng.random(len(component))
    # inverse of the CDF r^2 / (r^2 + R^2); beyond the face a radius only needs to stay beyond it
    radius = np.minimum(radius_scale * np.sqrt(u / (1.0 - u)), 2.0 * detector.face_cm)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, len(component))

    depth = (layer + 0.5) * detector.layer_cm
    travelled = np.maximum(depth - deposits.z_start[component], 0.0)
    x = deposits.axis[component, 0] + deposits.slope[component, 0] * travelled + radius * np.cos(azimuth)
    y = deposits.axis[component, 1] + deposits.slope[component, 1] * travelled + radius * np.sin(azimuth)
    column = np.floor((x + detector.face_cm / 2) / detector.cell_cm)
    row = np.floor((y + detector.face_cm / 2) / detector.cell_cm)
    inside = (column >= 0) & (column < pixels) & (row >= 0) & (row < pixels)

    cell = (layer * pixels + row.astype(np.int64)) * pixels + column.astype(np.int64)
    key = deposits.event[component][inside] * (layers * pixels * pixels) + cell[inside]
    unique, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=energy[inside], minlength=len(unique))
    return unique // (layers * pixels * pixels), unique % (layers * pixels * pixels), summed
