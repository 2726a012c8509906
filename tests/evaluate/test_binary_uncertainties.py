"""Uncertainties of the binary metrics against cases worked out by hand.

Rejections and efficiencies are binomial (1000 background events of which 10
or 100 pass), the accuracy is binomial, and the AUC error (DeLong's closed
form) agrees with a seeded bootstrap of the events and with Hanley–McNeil.
A rejection resting on fewer than 20 surviving background events is flagged.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.evaluate import COMPANIONS, metric_goal
from quanta.evaluate.binary import (
    LOW_STATISTICS,
    auc,
    auc_error,
    binary_metrics,
    efficiency_error,
    rejection_at,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _passing(passing: int, background: int = 1000, signal: int = 100):
    """``signal`` events at score 5, ``passing`` background events above them at 6 and the
    rest at 0: every cut keeping 30 % or 50 % of the signal keeps exactly ``passing``."""
    y = np.r_[np.ones(signal, np.int64), np.zeros(background, np.int64)]
    score = np.r_[np.full(signal, 5.0), np.full(passing, 6.0), np.zeros(background - passing)]
    return y, score


@pytest.mark.parametrize("passing, rejection, low", [(10, 100.0, True), (100, 10.0, False)])
def test_rejection_is_binomial_on_the_background_efficiency(passing, rejection, low):
    y, score = _passing(passing)
    eps = passing / 1000
    sigma_eps = math.sqrt(eps * (1 - eps) / 1000)  # 0.003146 for 10 of 1000, 0.009487 for 100
    assert efficiency_error(eps, 1000) == pytest.approx(sigma_eps, rel=1e-12)
    measured = rejection_at(y, score, 0.3)
    assert measured.value == pytest.approx(rejection)
    # 1/eps = 100 ± 31.46 for 10 passing; 10 ± 0.949 for 100 passing
    assert measured.error == pytest.approx(sigma_eps / eps**2, rel=1e-9)
    assert measured.error == pytest.approx(31.4643 if passing == 10 else 0.948683, rel=1e-5)
    metrics = binary_metrics(y, score)
    for point in (0.3, 0.5):
        assert metrics[f"rejection_at_{point}"] == pytest.approx(rejection)
        assert metrics[f"rejection_at_{point}_error"] == pytest.approx(measured.error)
        assert metrics[f"rejection_at_{point}_passing_background"] == passing
        assert metrics[f"rejection_at_{point}_low_statistics"] is low
    assert (passing < LOW_STATISTICS) is low


def test_weights_count_their_effective_number_of_events():
    y, score = _passing(100)
    weight = np.r_[np.ones(100), np.where(np.arange(1000) % 2 == 0, 0.5, 1.5)]
    # the background's effective number: (sum w)^2 / sum w^2 = 1000^2 / 1250 = 800
    measured = rejection_at(y, score, 0.3, weight)
    eps = float(np.sum(weight[100:200]) / np.sum(weight[100:]))
    assert measured.error == pytest.approx(math.sqrt(eps * (1 - eps) / 800) / eps**2, rel=1e-9)


def test_no_passing_background_is_a_limit_not_a_low_statistics_warning():
    y, score = _passing(0)
    metrics = binary_metrics(y, score)
    assert metrics["rejection_at_0.3"] == 1000 and metrics["rejection_at_0.3_lower_limit"]
    assert metrics["rejection_at_0.3_passing_background"] == 0
    assert metrics["rejection_at_0.3_low_statistics"] is False


def test_accuracy_error_is_binomial():
    # 1000 events, 900 classified right: 0.9 ± sqrt(0.9 * 0.1 / 1000) = 0.9 ± 0.009487
    y = np.r_[np.ones(500, np.int64), np.zeros(500, np.int64)]
    score = np.r_[np.full(450, 0.9), np.full(50, 0.1), np.full(450, 0.1), np.full(50, 0.9)]
    metrics = binary_metrics(y, score)
    assert metrics["accuracy"] == pytest.approx(0.9)
    assert metrics["accuracy_error"] == pytest.approx(math.sqrt(0.9 * 0.1 / 1000), rel=1e-12)


def _gaussian(n: int, separation: float, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(separation * y, 1.0)


def _bootstrap(y, score, weight, resamples: int = 200, seed: int = 3) -> float:
    """The spread of the weighted AUC over seeded resamples of the events with replacement."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        take = rng.integers(0, y.size, y.size)
        values.append(auc(y[take], score[take], weight[take]))
    return float(np.std(values, ddof=1))


def test_auc_error_agrees_with_a_bootstrap_and_hanley_mcneil():
    y, score = _gaussian(3000, 1.0, seed=0)
    weight = np.random.default_rng(1).uniform(0.2, 1.8, y.size)
    area, n_s, n_b = auc(y, score), int(y.sum()), int((y == 0).sum())
    q1, q2 = area / (2 - area), 2 * area**2 / (1 + area)
    hanley = math.sqrt((area * (1 - area) + (n_s - 1) * (q1 - area**2)
                        + (n_b - 1) * (q2 - area**2)) / (n_s * n_b))
    assert auc_error(y, score) == pytest.approx(hanley, rel=0.1)
    assert auc_error(y, score) == pytest.approx(_bootstrap(y, score, np.ones(y.size)), rel=0.15)
    weighted = auc_error(y, score, weight)
    assert weighted == pytest.approx(_bootstrap(y, score, weight), rel=0.15)
    assert weighted > auc_error(y, score)  # uneven weights carry less information
    assert auc_error(y, score, 3.0 * weight) == pytest.approx(weighted, rel=1e-12)
    assert binary_metrics(y, score, weight)["auc_error"] == weighted


def test_auc_error_counts_ties_and_refuses_a_single_class():
    y, score = _passing(100)
    assert auc_error(y, score) > 0
    assert auc_error(y, np.round(_gaussian(y.size, 1.0, 2)[1])) >= 0
    with pytest.raises(UserError, match="AUC error: no background"):
        auc_error(np.ones(10, np.int64), np.arange(10.0))


def test_auc_error_is_cheap_on_a_hundred_thousand_events():
    y, score = _gaussian(100_000, 1.0, seed=4)
    start = time.perf_counter()
    error = auc_error(y, score)
    assert time.perf_counter() - start < 0.5
    assert 1e-3 < error < 2e-3  # sqrt of Hanley-McNeil's variance: 0.0015


def test_companions_are_strict_json_and_rank_nothing():
    y, score = _gaussian(2000, 1.5, seed=5)
    metrics = binary_metrics(y, score)
    json.loads(json.dumps(metrics, allow_nan=False))
    for key in ("auc_error", "accuracy_error", "rejection_at_0.3_low_statistics",
                "rejection_at_0.5_passing_background"):
        assert key in metrics and key.endswith(COMPANIONS) and metric_goal(key) is None
