"""The acquisitions: a correct expected improvement, not the posterior variance in disguise."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.bayesopt import acquisition_values

pytest.importorskip("botorch")

#: a bowl with its minimum at x = 0.3, measured on [0, 0.7]; [0.7, 1] never measured
POINTS = np.linspace(0.0, 0.7, 11)[:, None]
VALUES = 40.0 * (POINTS[:, 0] - 0.3) ** 2
GRID = np.linspace(0.0, 1.0, 201)[:, None]


def test_expected_improvement_looks_near_the_best_where_max_variance_looks_far_away():
    log_ei = acquisition_values(POINTS, VALUES, [[0.0, 1.0]], GRID, acquisition="ei")
    log_variance = acquisition_values(
        POINTS, VALUES, [[0.0, 1.0]], GRID, acquisition="max_variance"
    )
    # zero-variance safe: finite at the measured points too (plain EI would be 0, its log -inf)
    assert np.isfinite(log_ei).all() and np.isfinite(log_variance).all()
    ei_choice, variance_choice = GRID[np.argmax(log_ei), 0], GRID[np.argmax(log_variance), 0]
    # measured: EI picks x = 0.295 (log EI -3.8), max variance x = 1.0 (log EI there -21.7)
    assert abs(ei_choice - 0.3) < 0.1
    assert variance_choice > 0.8
    # where the variance is largest the mean is far worse than the best: EI is tiny there
    assert log_ei[np.argmax(log_variance)] < log_ei.max() - np.log(100.0)


def test_upper_confidence_bound_grows_with_beta_where_the_surrogate_is_unsure():
    far = np.array([[1.0]])
    low = acquisition_values(POINTS, VALUES, [[0.0, 1.0]], far, acquisition="ucb", beta=1.0)
    high = acquisition_values(POINTS, VALUES, [[0.0, 1.0]], far, acquisition="ucb", beta=9.0)
    assert high[0] > low[0]
