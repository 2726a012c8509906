"""The high-level observables of calorimeter showers, as the CaloChallenge 2022 compares them.

A generated shower is judged by the distributions of the quantities a
calorimeter physicist looks at: how much of the incident energy it deposits,
how that energy is shared between the layers, where its centre lies in each
layer and how wide it is there, how many cells fire, and the spectrum of the
cell energies. These are the observables of the Fast Calorimeter Simulation
Challenge 2022 (C. Krause, M. Faucett Giannelli, G. Kasieczka, B. Nachman et
al., "CaloChallenge 2022: A Community Challenge for Fast Calorimeter
Simulation", arXiv:2410.21611; the challenge's evaluation script in its
repository), computed here for quanta's
calorimeter (:mod:`quanta.simulators.calorimeter`):

- ``e_total_over_e_incident``: the summed cell energies over the incident
  energy (``e_total`` in GeV when the generator was not given the energy);
- ``e_layer_03``: the energy in layer 3 (GeV);
- ``centre_x_layer_03``, ``centre_y_layer_03``: the energy-weighted mean
  cell position in the layer (cm, from the centre of the face);
- ``width_x_layer_03``, ``width_y_layer_03``: the energy-weighted RMS of the
  cell positions about that centre (cm);
- ``n_cells``: the cells at or above the readout threshold;
- the cell-energy spectrum (:func:`cell_energies`): every cell at or above
  threshold, pooled over the showers, compared on log-spaced bins.

A stack of more than :data:`MAX_LAYER_GROUPS` layers is summed in that many
groups of consecutive layers (``e_layers_00_02`` for layers 0 to 2) before
the per-layer observables are taken, so that 30 layers give 50 per-layer
observables rather than 150; ``layer_groups`` chooses another number. An image of one
layer (``x[N, 1, P, P]``, the ``image2d`` view) has no per-layer energies and
its centres and widths are named without a layer (``centre_x``).

Positions are cell centres: the face is ``FACE_CM`` wide and ``P`` cells
across (``cell = 48 cm / P``, :mod:`quanta.simulators.calorimeter.geometry`).
A layer without energy has centre and width 0 (the challenge's convention).
Negative cell values (a generator may produce them) count in the energies but
not as weights of centres and widths.
"""

from __future__ import annotations

import numpy as np

from quanta.errors import UserError

#: more layers than this are summed in this many groups of consecutive layers
MAX_LAYER_GROUPS = 10


def readout_threshold() -> float:
    """The calorimeter's zero-suppression threshold in GeV (0.5 MIP of 34 MeV: 0.0170)."""
    from quanta.simulators.calorimeter.geometry import Calorimeter
    from quanta.simulators.calorimeter.readout import THRESHOLD_MIP

    return THRESHOLD_MIP * Calorimeter().mip


def cell_size_cm(pixels: int) -> float:
    """The width of one cell in cm for ``pixels`` cells across the calorimeter's face."""
    from quanta.simulators.calorimeter.geometry import FACE_CM

    return FACE_CM / pixels


def as_layers(x: np.ndarray) -> np.ndarray:
    """Showers ``x[N, 1, L, P, P]`` or ``x[N, 1, P, P]`` as ``float32[N, L, P, P]`` (a view when
    ``x`` is float32 already: sums are taken in float64 without copying the showers)."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, :, None]
    if x.ndim != 5 or x.shape[1] != 1 or x.shape[3] != x.shape[4]:
        raise UserError(
            f"showers: expected x[N, 1, L, P, P] or x[N, 1, P, P]; received {list(x.shape)}"
        )
    return x[:, 0].astype(np.float32, copy=False)


def layer_groups_of(layers: int, groups: int | None = None) -> list[tuple[int, int]]:
    """``(first, last)`` layers of each group: one per layer up to ``groups`` (default
    :data:`MAX_LAYER_GROUPS`) layers, else ``groups`` runs of consecutive layers, as equal as can
    be."""
    groups = MAX_LAYER_GROUPS if groups is None else groups
    if groups < 1:
        raise UserError(f"showers: layer_groups must be an integer >= 1; received {groups}")
    if layers <= groups:
        return [(layer, layer) for layer in range(layers)]
    bounds = np.linspace(0, layers, groups + 1).round().astype(int)
    return [(int(a), int(b) - 1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _group_name(first: int, last: int) -> str:
    return f"layer_{first:02d}" if first == last else f"layers_{first:02d}_{last:02d}"


def shower_observables(
    x: np.ndarray,
    energy: np.ndarray | None,
    cell_cm: float,
    threshold: float,
    layer_groups: int | None = None,
) -> dict[str, np.ndarray]:
    """The high-level observables of each shower, ``{name: float64[N]}`` in a fixed order.

    Args:
        x: cell energies in GeV, ``x[N, 1, L, P, P]`` (axes layer, y, x) or ``x[N, 1, P, P]``.
        energy: the incident energy of each shower in GeV, ``[N]``; None: not known (the
            generator was not given it), and the total energy is taken in GeV instead.
        cell_cm: the width of a cell (:func:`cell_size_cm`).
        threshold: the readout threshold in GeV (:func:`readout_threshold`); ``n_cells``
            counts the cells at or above it.
        layer_groups: at most this many groups of consecutive layers (default
            :data:`MAX_LAYER_GROUPS`).
    """
    cells = as_layers(x)  # [N, L, P, P]
    n, layers, pixels = cells.shape[0], cells.shape[1], cells.shape[2]
    flat = cells.reshape(n, -1)  # [N, L P P], a view
    total = flat.sum(axis=1, dtype=np.float64)
    observables: dict[str, np.ndarray] = {}
    if energy is not None:
        energy = np.asarray(energy, np.float64).reshape(-1)
        if len(energy) != n or not np.all(energy > 0):
            raise UserError(f"showers: the incident energies must be {n} positive numbers")
        observables["e_total_over_e_incident"] = total / energy
    else:
        observables["e_total"] = total
    groups = layer_groups_of(layers, layer_groups)
    starts = [first for first, _ in groups]
    # the weights of centres and widths: the cells' energies, negative ones (a generator's) as 0
    weights = np.clip(cells, 0.0, None) if flat.min(initial=0.0) < 0 else cells
    # profiles per layer, then per group of layers (never a float64 copy of every cell)
    in_x = np.add.reduceat(weights.sum(axis=2, dtype=np.float64), starts, axis=1)  # [N, G, P]
    in_y = np.add.reduceat(weights.sum(axis=3, dtype=np.float64), starts, axis=1)  # [N, G, P]
    per_layer = cells.sum(axis=(2, 3), dtype=np.float64)  # [N, L]
    energies = np.add.reduceat(per_layer, starts, axis=1)  # [N, G]
    centres = (np.arange(pixels) + 0.5) * cell_cm - pixels * cell_cm / 2  # cm, from the centre
    mass = in_x.sum(axis=2)  # [N, G]
    safe = np.where(mass > 0, mass, 1.0)
    shape = {}
    for axis, profile in (("x", in_x), ("y", in_y)):
        mean = profile @ centres / safe
        second = profile @ centres**2 / safe
        width = np.sqrt(np.clip(second - mean**2, 0.0, None))
        shape[axis] = (np.where(mass > 0, mean, 0.0), np.where(mass > 0, width, 0.0))
    one_layer = layers == 1
    for g, (first, last) in enumerate(groups):
        suffix = "" if one_layer else "_" + _group_name(first, last)
        if not one_layer:
            observables[f"e{suffix}"] = energies[:, g]
        for what, index in (("centre", 0), ("width", 1)):
            for axis in ("x", "y"):
                observables[f"{what}_{axis}{suffix}"] = shape[axis][index][:, g]
    observables["n_cells"] = np.count_nonzero(flat >= threshold, axis=1).astype(np.float64)
    return observables


def cell_energies(x: np.ndarray, threshold: float) -> np.ndarray:
    """Every cell energy at or above ``threshold`` (GeV) of the showers ``x``: ``float64[H]``."""
    values = np.asarray(x).reshape(-1)
    return values[values >= threshold].astype(np.float64)


UNITS = {
    "e_total_over_e_incident": "",
    "e_total": "GeV",
    "e": "GeV",
    "centre": "cm",
    "width": "cm",
    "n_cells": "",
    "cell_energy": "GeV",
}


def unit_of(name: str) -> str:
    """The unit of an observable named by :func:`shower_observables` ("" for a ratio or a count)."""
    if name in UNITS:
        return UNITS[name]
    return UNITS.get(name.split("_")[0], "")


__all__ = [
    "MAX_LAYER_GROUPS",
    "as_layers",
    "cell_energies",
    "cell_size_cm",
    "layer_groups_of",
    "readout_threshold",
    "shower_observables",
    "unit_of",
]
