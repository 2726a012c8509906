"""The views of a calorimeter data set, computed from the cached sparse readout.

Raw showers (see :func:`quanta.simulators.calorimeter.generate.simulate_chunk`):
``n_hits`` int32[N], and for all hits, shower after shower, ``hit_cell``
int32[H] (``layer * P^2 + row * P + column``) and ``hit_energy`` float32[H]
(GeV at the electromagnetic scale).
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.calorimeter.geometry import Calorimeter

CORE_RADIUS_CM = 2.5  # the "core": cells whose centre lies within ~1.25 Moliere radii of the axis
START_MIPS = (2.0, 4.0)  # a shower has started in the first layer above 10 % of its energy, clipped to these MIPs


def hit_events(raw: dict[str, np.ndarray]) -> np.ndarray:
    """``int64[H]``: the shower each hit belongs to."""
    return np.repeat(np.arange(len(raw["n_hits"])), raw["n_hits"])


def image3d(raw: dict[str, np.ndarray], detector: Calorimeter) -> np.ndarray:
    """``float32[N, 1, L, P, P]``: signal per layer and cell (GeV); axes (layer, y, x)."""
    n, layers, pixels = len(raw["n_hits"]), detector.layers, detector.pixels
    x = np.zeros((n, layers * pixels * pixels), np.float32)
    x[hit_events(raw), raw["hit_cell"]] = raw["hit_energy"]
    return x.reshape(n, 1, layers, pixels, pixels)


def image2d(raw: dict[str, np.ndarray], detector: Calorimeter) -> np.ndarray:
    """``float32[N, 1, P, P]``: signal per cell summed over the layers (GeV); axes (y, x)."""
    n, cells = len(raw["n_hits"]), detector.pixels**2
    key = hit_events(raw) * cells + raw["hit_cell"] % cells
    summed = np.bincount(key, weights=raw["hit_energy"], minlength=n * cells)
    return summed.astype(np.float32).reshape(n, 1, detector.pixels, detector.pixels)


def feature_names(layers: int) -> list[str]:
    """Names of the features view's columns (``e_layer_00`` ... one per layer)."""
    return (["total_energy"] + [f"e_layer_{i:02d}" for i in range(layers)]
            + ["depth_mean", "depth_std", "width", "core_fraction", "max_cell_fraction", "n_hits", "start_layer"])


def features(raw: dict[str, np.ndarray], detector: Calorimeter) -> np.ndarray:
    """``float32[N, L + 8]``: one row of shower-shape observables per shower (names in :func:`feature_names`).

    total_energy (GeV); e_layer_XX, the signal of each layer (GeV); depth_mean
    and depth_std, the signal-weighted mean and RMS of the layer index
    (layers; one layer = 1.44 X0 = 0.156 lambda_I); width, the signal-weighted
    RMS distance of the cells from the shower axis (the signal centroid in x,
    y), cm; core_fraction, the share of the signal within CORE_RADIUS_CM of
    the axis; max_cell_fraction, the share of the hottest cell; n_hits, the
    cells above threshold; start_layer, the first layer whose signal exceeds
    10 % of the total (clipped to 2-4 MIPs), ``L`` if none does.
    """
    n, layers, pixels = len(raw["n_hits"]), detector.layers, detector.pixels
    event, cell = hit_events(raw), raw["hit_cell"].astype(np.int64)
    e = raw["hit_energy"].astype(np.float64)
    layer = cell // pixels**2
    x = (cell % pixels + 0.5) * detector.cell_cm - detector.face_cm / 2
    y = ((cell // pixels) % pixels + 0.5) * detector.cell_cm - detector.face_cm / 2

    def per_shower(values: np.ndarray) -> np.ndarray:
        return np.bincount(event, weights=values, minlength=n)

    total = per_shower(e)
    safe = np.where(total > 0, total, 1.0)
    per_layer = np.bincount(event * layers + layer, weights=e, minlength=n * layers).reshape(n, layers)
    depth = per_shower(e * layer) / safe
    depth_std = np.sqrt(np.maximum(per_shower(e * (layer - depth[event]) ** 2) / safe, 0.0))
    cx, cy = per_shower(e * x) / safe, per_shower(e * y) / safe
    distance2 = (x - cx[event]) ** 2 + (y - cy[event]) ** 2
    width = np.sqrt(per_shower(e * distance2) / safe)
    core = per_shower(e * (distance2 <= CORE_RADIUS_CM**2)) / safe
    hottest = np.zeros(n)
    np.maximum.at(hottest, event, e)
    threshold = np.clip(0.1 * total, START_MIPS[0] * detector.mip, START_MIPS[1] * detector.mip)
    above = per_layer > threshold[:, None]
    start = np.where(above.any(axis=1), above.argmax(axis=1), layers)
    columns = [total[:, None], per_layer, depth[:, None], depth_std[:, None], width[:, None], core[:, None],
               (hottest / safe)[:, None], raw["n_hits"][:, None], start[:, None]]
    return np.concatenate(columns, axis=1).astype(np.float32)
