"""Tests for quanta.evaluate.binary: ROC, AUC, rejection, accuracy, overtraining KS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from quanta.errors import UserError
from quanta.evaluate.binary import (
    accuracy,
    auc,
    background_rejection,
    binary_metrics,
    effective_events,
    overtraining_ks,
    rejection_at,
    roc_curve,
)
from quanta.tasks.evaluation import metrics_for


def _sample(n: int = 3000, seed: int = 0, ties: bool = True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = rng.normal(1.2 * y, 1.0)
    if ties:
        score = np.round(score, 1)  # many equal scores: the tie handling must match sklearn
    return y, score, rng.uniform(0.1, 3.0, n)


@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_sklearn(ties):
    y, score, _ = _sample(ties=ties)
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_auc_and_roc_match_sklearn(ties):
    y, score, weight = _sample(ties=ties)
    assert auc(y, score, weight) == pytest.approx(roc_auc_score(y, score, sample_weight=weight), abs=1e-12)
    eff_s, eff_b, thresholds = roc_curve(y, score, weight)
    fpr, tpr, _ = sklearn_roc_curve(y, score, sample_weight=weight, drop_intermediate=False)
    np.testing.assert_allclose(eff_s, tpr, atol=1e-12)
    np.testing.assert_allclose(eff_b, fpr, atol=1e-12)
    assert thresholds[0] == np.inf and np.all(np.diff(thresholds) < 0)


def test_integer_weights_equal_repeated_events():
    y, score, _ = _sample(n=400)
    counts = np.random.default_rng(1).integers(1, 4, y.size)
    repeated = auc(np.repeat(y, counts), np.repeat(score, counts))
    assert auc(y, score, counts) == pytest.approx(repeated, abs=1e-12)


def test_rejection_on_uniform_grids_is_exact():
    # signal uniform on [0, 1], background uniform on [-1, 1]: the cut keeping 30% of the
    # signal is score > 0.7, which keeps (1 - 0.7) / 2 = 15% of the background
    n = 1000
    signal = (np.arange(n) + 0.5) / n
    background = -1.0 + 2.0 * (np.arange(n) + 0.5) / n
    y = np.r_[np.ones(n), np.zeros(n)]
    score = np.r_[signal, background]
    assert background_rejection(y, score, 0.3) == pytest.approx(1 / 0.15, rel=1e-9)
    assert background_rejection(y, score, 0.5) == pytest.approx(1 / 0.25, rel=1e-9)


def test_rejection_for_gaussian_scores_matches_the_analytic_value():
    # signal N(+1, 1), background N(-1, 1): eps_S = 0.5 at the cut t = 1, where
    # eps_B = 1 - Phi(2); events are placed at exact quantiles, so sampling noise is absent
    n = 200_000
    quantiles = (np.arange(n) + 0.5) / n
    y = np.r_[np.ones(n), np.zeros(n)]
    score = np.r_[norm.ppf(quantiles, loc=1.0), norm.ppf(quantiles, loc=-1.0)]
    expected = 1.0 / norm.sf(2.0)  # about 43.96
    assert background_rejection(y, score, 0.5) == pytest.approx(expected, rel=2e-3)
    assert auc(y, score) == pytest.approx(norm.cdf(2.0 / np.sqrt(2.0)), abs=1e-4)


def test_rejection_is_infinite_when_no_background_passes():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    score = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.3, 0.2, 0.1])
    assert background_rejection(y, score, 0.5) == np.inf
    assert background_rejection(y, score, 0.75) == np.inf
    # 100% signal needs the cut at 0.2, which keeps the background at 0.6, 0.3 and 0.2
    assert background_rejection(y, score, 1.0) == pytest.approx(4 / 3)
    metrics = binary_metrics(y, score)  # stored finite: the lower limit N = 4 background events
    for point in ("0.3", "0.5"):
        assert metrics[f"rejection_at_{point}"] == 4.0
        assert metrics[f"rejection_at_{point}_lower_limit"] is True
        assert metrics[f"rejection_at_{point}_error"] == 0.0
    assert rejection_at(y, score, 0.5) == (4.0, 0.0, True)
    # eps_B = 3/4 of N = 4: sigma_eps = sqrt(3/4 * 1/4 / 4), sigma_eps / eps_B^2 = 2 sqrt(3) / 9
    assert rejection_at(y, score, 1.0) == pytest.approx((4 / 3, 2 * np.sqrt(3) / 9, False))


def test_rejection_error_is_binomial_on_the_background_efficiency():
    # 1000 background events of which exactly 100 pass the cut keeping 30% of the signal:
    # eps_B = 0.1, sigma_eps = sqrt(0.1 * 0.9 / 1000), sigma(1/eps_B) = sigma_eps / 0.01
    signal = np.r_[np.full(300, 3.0), np.full(700, -3.0)]
    background = np.r_[np.full(100, 3.0), np.full(900, -3.0)]
    y, score = np.r_[np.ones(1000), np.zeros(1000)], np.r_[signal, background]
    value, error, limit = rejection_at(y, score, 0.3)
    assert (value, limit) == (pytest.approx(10.0), False)
    assert error == pytest.approx(np.sqrt(0.1 * 0.9 / 1000) / 0.01, rel=1e-12)  # 0.9487
    metrics = binary_metrics(y, score)
    assert metrics["rejection_at_0.3_error"] == pytest.approx(0.9487, abs=1e-4)


def test_weighted_rejection_error_uses_the_effective_number_of_events():
    # half the background events weigh 3, half 1: N_eff = (sum w)^2 / sum w^2 = 0.8 N
    rng = np.random.default_rng(4)
    n = 4000
    y = np.r_[np.ones(n), np.zeros(n)]
    score = rng.normal(np.r_[np.full(n, 1.5), np.zeros(n)], 1.0)
    weight = np.r_[np.ones(n), np.tile([3.0, 1.0], n // 2)]
    assert effective_events(weight[n:]) == pytest.approx(0.8 * n)
    value, error, _ = rejection_at(y, score, 0.3, weight)
    eps = 1 / value
    assert error == pytest.approx(np.sqrt(eps * (1 - eps) / (0.8 * n)) / eps**2, rel=1e-9)
    assert error > rejection_at(y, score, 0.3).error * 0.9  # weights lose statistics


def test_rejection_error_matches_the_spread_of_repeated_experiments():
    # the quoted uncertainty is the standard deviation of the rejection over independent background
    # samples (the signal sits at exact quantiles, so the cut does not move): measured ratio 1.01
    rng = np.random.default_rng(7)
    n = 2000
    signal = norm.ppf((np.arange(n) + 0.5) / n, loc=2.0)
    y = np.r_[np.ones(n), np.zeros(n)]
    values, errors = [], []
    for _ in range(300):
        value, error, _ = rejection_at(y, np.r_[signal, rng.normal(0.0, 1.0, n)], 0.5)
        values.append(value)
        errors.append(error)
    assert np.std(values) == pytest.approx(np.mean(errors), rel=0.1)


def test_rejection_rejects_a_bad_working_point():
    y, score, _ = _sample(n=50)
    with pytest.raises(UserError, match="signal efficiency"):
        background_rejection(y, score, 1.5)


def test_accuracy_and_weights():
    y = np.array([1, 1, 0, 0])
    score = np.array([0.9, 0.4, 0.2, 0.7])
    assert accuracy(y, score) == pytest.approx(0.5)
    assert accuracy(y, score, weight=[3, 1, 3, 1]) == pytest.approx(0.75)
    assert accuracy(y, score, threshold=0.3) == pytest.approx(0.75)


def test_overtraining_ks_p_values():
    rng = np.random.default_rng(3)
    n = 2000
    y_train, y_test = rng.integers(0, 2, n), rng.integers(0, 2, n)
    same_train = rng.normal(y_train, 1.0)
    same_test = rng.normal(y_test, 1.0)
    p = overtraining_ks(y_train, same_train, y_test, same_test)
    assert set(p) == {"signal", "background"}
    assert p["signal"] > 0.05 and p["background"] > 0.05

    overtrained = rng.normal(1.6 * y_train - 0.3, 0.7)  # sharper on seen events
    p = overtraining_ks(y_train, overtrained, y_test, same_test)
    assert p["signal"] < 1e-6 and p["background"] < 1e-6


def test_binary_metrics_keys_and_dispatch():
    y, score, weight = _sample(n=1000, ties=False)
    probability = 1.0 / (1.0 + np.exp(-score))
    metrics = binary_metrics(y, probability, weight)
    assert list(metrics) == ["auc", "auc_error", "accuracy", "accuracy_error",
                             "rejection_at_0.3", "rejection_at_0.3_error",
                             "rejection_at_0.3_lower_limit", "rejection_at_0.3_passing_background",
                             "rejection_at_0.3_low_statistics",
                             "rejection_at_0.5", "rejection_at_0.5_error",
                             "rejection_at_0.5_lower_limit", "rejection_at_0.5_passing_background",
                             "rejection_at_0.5_low_statistics", "ece"]
    flags = {k for k in metrics if k.endswith(("_lower_limit", "_low_statistics"))}
    counts = {k for k in metrics if k.endswith("_passing_background")}
    assert all(type(metrics[k]) is bool for k in flags)
    assert not any(metrics[k] for k in flags if k.endswith("_lower_limit"))
    assert all(type(metrics[k]) is int and metrics[k] > 0 for k in counts)
    assert all(type(v) is float and np.isfinite(v) for k, v in metrics.items()
               if k not in flags | counts)
    assert metrics_for("binary", y, probability, weight) == metrics
    assert metrics["rejection_at_0.3"] > metrics["rejection_at_0.5"] > 1.0


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "no background"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "0 \\(background\\) or 1"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN or Inf"),
        ([0, 1], [0.1, 0.2, 0.3], "one value per sample"),
    ],
)
def test_bad_inputs_are_user_errors(y, score, message):
    with pytest.raises(UserError, match=message):
        auc(y, score)


def test_unknown_task_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'binary'"):
        metrics_for("binar", [0, 1], [0.1, 0.9])
