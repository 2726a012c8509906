"""Readout: electronic noise in every cell, then zero suppression.

Each cell's signal gets Gaussian noise of ``NOISE_MIP`` MIPs; cells below
``THRESHOLD_MIP`` MIPs are not read out (as in highly granular calorimeters
such as the CALICE AHCAL, which reads tiles above 0.5 MIP). Most cells hold
no signal, and only their upward noise fluctuations above threshold survive:
those are drawn directly (a Binomial count per shower over the empty cells,
values from the Gaussian tail) instead of adding noise to every cell, which
has the same distribution and costs nothing for empty cells.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from quanta.simulators.calorimeter.geometry import Calorimeter

NOISE_MIP = 0.13  # ~2 noise hits above threshold per shower in 30 x 32 x 32 cells
THRESHOLD_MIP = 0.5


def read_out(event: np.ndarray, cell: np.ndarray, energy: np.ndarray, n_events: int, detector: Calorimeter,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy, zero-suppressed hits ``(event, cell, energy)`` from true cell signals sorted by (event, cell)."""
    sigma, threshold = NOISE_MIP * detector.mip, THRESHOLD_MIP * detector.mip
    n_cells = detector.layers * detector.pixels**2
    noisy = energy + rng.normal(0.0, sigma, len(energy))

    tail = float(ndtr(-threshold / sigma))  # probability that noise alone passes the threshold
    count = rng.binomial(n_cells, tail, n_events)
    noise_event = np.repeat(np.arange(n_events), count)
    noise_cell = rng.integers(0, n_cells, len(noise_event))
    noise_value = -sigma * ndtri(tail * rng.random(len(noise_event)))  # Gaussian tail above threshold
    # a noise hit landing on a cell with signal is dropped (that cell's noise is in `noisy` already);
    # the survivors are then exactly the empty cells' noise above threshold
    key, noise_key = event * n_cells + cell, noise_event * n_cells + noise_cell
    noise_key, first = np.unique(noise_key, return_index=True)
    fresh = ~np.isin(noise_key, key)

    key = np.concatenate([key, noise_key[fresh]])
    value = np.concatenate([noisy, noise_value[first][fresh]])
    order = np.argsort(key, kind="stable")
    key, value = key[order], value[order]
    passed = value >= threshold
    return key[passed] // n_cells, key[passed] % n_cells, value[passed]
