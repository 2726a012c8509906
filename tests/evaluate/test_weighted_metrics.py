"""Event weights in every metric: weighted and unweighted values differ as they should.

Each expected value is computed independently of quanta: by hand, by counting
pairs of events, or by repeating each event as often as its integer weight
(an integer weight w must mean exactly the same as w copies of the event).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from quanta.errors import UserError
from quanta.evaluate import binary, multiclass, regression


def _pairwise_auc(y, score, weight):
    """P(signal outscores background), ties one half, each pair weighted by w_s w_b."""
    s, b = y == 1, y == 0
    wins = (score[s][:, None] > score[b][None, :]) + 0.5 * (score[s][:, None] == score[b][None, :])
    pairs = weight[s][:, None] * weight[b][None, :]
    return float(np.sum(wins * pairs) / np.sum(pairs))


def test_weighted_auc_by_hand():
    y, score = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert binary.auc(y, score) == pytest.approx(0.75)
    # the signal event at 0.35, beaten by the background at 0.4, counts three times:
    # wins 3 * 1 (over 0.1) + 1 * 2 (0.8 over both) out of W_S W_B = 4 * 2 pairs
    assert binary.auc(y, score, [1, 1, 3, 1]) == pytest.approx(5 / 8)
    assert binary.accuracy(y, score, [1, 1, 3, 1]) == pytest.approx(3 / 6)  # 0.35 and 0.4 wrong


def test_up_weighting_where_the_classifier_is_bad_lowers_the_auc():
    rng = np.random.default_rng(0)
    n = 1500
    y = rng.integers(0, 2, n)
    hard = rng.random(n) < 0.5  # a region of phase space where the score knows nothing
    score = np.where(hard, rng.normal(0.0, 1.0, n), rng.normal(np.where(y == 1, 1.5, -1.5), 1.0))
    weight = np.where(hard, 5.0, 1.0)
    unweighted, weighted = binary.auc(y, score), binary.auc(y, score, weight)
    assert unweighted == pytest.approx(_pairwise_auc(y, score, np.ones(n)), abs=1e-12)
    assert weighted == pytest.approx(_pairwise_auc(y, score, weight), abs=1e-12)
    assert weighted < unweighted - 0.1
    # the weighted ROC: signal efficiency at a cut is the weight fraction of signal passing it
    eff_s, eff_b, thresholds = binary.roc_curve(y, score, weight)
    cut = thresholds[len(thresholds) // 2]
    passing = score >= cut
    assert eff_s[len(thresholds) // 2] == pytest.approx(
        weight[passing & (y == 1)].sum() / weight[y == 1].sum())
    assert eff_b[len(thresholds) // 2] == pytest.approx(
        weight[passing & (y == 0)].sum() / weight[y == 0].sum())


def test_integer_weights_mean_repeated_events_in_the_binary_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    score = 1 / (1 + np.exp(-rng.normal(np.where(y == 1, 1.0, -1.0), 1.0)))
    weight = rng.integers(1, 4, 400)
    repeated = binary.binary_metrics(np.repeat(y, weight), np.repeat(score, weight))
    weighted = binary.binary_metrics(y, score, weight.astype(float))
    for key in ("auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5", "ece"):
        assert weighted[key] == pytest.approx(repeated[key], rel=1e-9), key
    assert weighted["auc"] != pytest.approx(binary.auc(y, score), abs=1e-4)


def test_weighted_ks_test():
    rng = np.random.default_rng(2)
    a = rng.random(4000)  # flat on [0, 1]
    b = np.sqrt(rng.random(3000))  # density 2x on [0, 1]
    # unweighted: the test sees the difference
    assert binary.ks_test(a, b)[1] < 1e-10
    # weighting the flat sample by 2a gives it b's distribution: no difference left
    statistic, p_value = binary.ks_test(a, b, 2 * a)
    assert statistic < 0.04 and p_value > 0.01
    # equal weights give the unweighted statistic and its asymptotic p-value
    reference = ks_2samp(a[:500], b[:400], method="asymp")
    statistic, p_value = binary.ks_test(a[:500], b[:400], np.full(500, 0.3), np.full(400, 2.0))
    assert statistic == pytest.approx(reference.statistic)
    assert p_value == pytest.approx(reference.pvalue, rel=1e-3)
    # events of negligible weight add no effective events: the p-value is that of the others
    negligible = np.r_[np.ones(250), np.full(250, 1e-9)]
    reference = ks_2samp(a[:250], b[:400], method="asymp")
    statistic, p_value = binary.ks_test(a[:500], b[:400], negligible, None)
    assert statistic == pytest.approx(reference.statistic, abs=1e-6)
    assert p_value == pytest.approx(reference.pvalue, rel=1e-2)
    # the statistic is that of the repeated events
    weight = rng.integers(1, 4, 300)
    assert binary.ks_test(a[:300], b[:300], weight, None)[0] == pytest.approx(
        ks_2samp(np.repeat(a[:300], weight), b[:300]).statistic)
    with pytest.raises(UserError, match="positive sum"):
        binary.ks_test(a[:3], b[:3], [1.0, -1.0, 0.0])


def test_overtraining_check_uses_the_weights():
    rng = np.random.default_rng(3)
    n = 3000
    train_y, test_y = rng.integers(0, 2, n), rng.integers(0, 2, n)
    train_s = rng.random(n)
    test_s = np.sqrt(rng.random(n))  # shifted up against train ...
    train_w = 2 * train_s  # ... but the train weights make up for it
    assert max(binary.overtraining_ks(train_y, train_s, test_y, test_s).values()) < 1e-6
    assert min(binary.overtraining_ks(train_y, train_s, test_y, test_s, train_w).values()) > 0.01


def test_weighted_one_vs_rest_curves_and_confusion_matrix():
    rng = np.random.default_rng(4)
    n, k = 1200, 3
    y = rng.integers(0, k, n)
    hard = rng.random(n) < 0.5
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), y] += np.where(hard, 0.0, 3.0)
    weight = np.where(hard, 4.0, 1.0)
    curves = multiclass.one_vs_rest_roc(y, logits, weight)
    aucs = multiclass.one_vs_rest_auc(y, logits, weight)
    assert sorted(curves) == [0, 1, 2]
    for cls in range(k):
        expected = _pairwise_auc((y == cls).astype(int), logits[:, cls], weight)
        assert aucs[cls] == pytest.approx(expected, abs=1e-12)
        assert aucs[cls] < multiclass.one_vs_rest_auc(y, logits)[cls] - 0.05
    matrix = multiclass.confusion_matrix(y, logits, weight, normalize=False)
    predicted = logits.argmax(axis=1)
    assert matrix[1, 2] == pytest.approx(weight[(y == 1) & (predicted == 2)].sum())
    assert multiclass.accuracy(y, logits, weight) == pytest.approx(
        weight[predicted == y].sum() / weight.sum())


def test_weighted_regression_metrics_are_those_of_repeated_events():
    rng = np.random.default_rng(5)
    y = rng.uniform(10.0, 100.0, 500)
    prediction = y + rng.normal(0.0, 2.0, 500) + np.where(y > 60, 5.0, 0.0)
    weight = np.where(y > 60, 3, 1)
    repeated = regression.regression_metrics(np.repeat(y, weight), np.repeat(prediction, weight))
    weighted = regression.regression_metrics(y, prediction, weight.astype(float))
    for key, value in repeated.items():
        assert weighted[key] == pytest.approx(value, rel=1e-9), key
    assert weighted["bias"] > regression.regression_metrics(y, prediction)["bias"] + 0.5


def test_binned_resolution_follows_the_truth():
    rng = np.random.default_rng(6)
    y = rng.uniform(0.0, 10.0, 40_000)
    width = 0.1 * (1.0 + y)  # the resolution grows with the true value
    prediction = y + 0.05 * y + rng.normal(0.0, width)
    binned = regression.binned_resolution(y, prediction, bins=8)
    assert binned.edges.size == 9 and binned.events.sum() == 40_000
    expected = 0.1 * (1.0 + binned.centres)
    # the widths vary within a bin by about +-6 %: compare with that much slack
    assert np.all(np.abs(binned.sigma_68 / expected - 1) < 0.04)
    assert np.all(np.abs(binned.sigma / expected - 1) < 0.04)
    assert np.all(np.abs(binned.bias - 0.05 * binned.centres) < 4 * binned.bias_error + 0.01)


def test_binned_resolution_errors_match_the_spread_of_repeated_samples():
    estimates, errors = [], []
    for seed in range(60):
        rng = np.random.default_rng(100 + seed)
        y = rng.uniform(0.0, 1.0, 2000)
        binned = regression.binned_resolution(y, y + rng.normal(0.0, 1.0, 2000), bins=4)
        estimates.append([binned.bias, binned.sigma, binned.sigma_68])
        errors.append([binned.bias_error, binned.sigma_error, binned.sigma_68_error])
    spread = np.std(estimates, axis=0).mean(axis=1)
    quoted = np.mean(errors, axis=0).mean(axis=1)
    assert np.all(np.abs(spread / quoted - 1) < 0.25), (spread, quoted)


def test_binned_resolution_with_weights_is_that_of_repeated_events():
    rng = np.random.default_rng(7)
    y = rng.uniform(0.0, 1.0, 3000)
    wide = rng.random(3000) < 0.3  # a badly measured population
    prediction = y + rng.normal(0.0, np.where(wide, 0.5, 0.1))
    weight = np.where(wide, 3, 1)
    # integer weights and repeated events agree when the bins are the same: use one bin
    weighted = regression.binned_resolution(y, prediction, weight.astype(float), bins=1)
    repeated = regression.binned_resolution(np.repeat(y, weight), np.repeat(prediction, weight),
                                            bins=1)
    for field in ("bias", "sigma", "sigma_68"):
        assert getattr(weighted, field) == pytest.approx(getattr(repeated, field)), field
    plain = regression.binned_resolution(y, prediction, bins=1)
    assert weighted.sigma_68[0] > 1.5 * plain.sigma_68[0]  # the wide events now count more
    # the weighted errors use the effective number of events, below the number of events
    assert weighted.sigma_68_error[0] > plain.sigma_68_error[0] * weighted.sigma_68[0] / \
        plain.sigma_68[0]


def test_binned_resolution_refuses_bad_arguments():
    with pytest.raises(UserError, match="bins: expected a positive number"):
        regression.binned_resolution([1.0, 2.0], [1.0, 2.0], bins=0)
    with pytest.raises(UserError, match=r"target: expected a column in 0\.\.1"):
        regression.binned_resolution(np.ones((3, 2)), np.ones((3, 2)), target=2)
