"""Order metrics (``quanta.evaluate.ordering``) against closed forms, SciPy and scikit-learn, and
the report's ranking figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import ndcg_score

from quanta.errors import UserError
from quanta.evaluate import metric_goal, ordering
from quanta.evaluate.ordering import gains, ndcg, ordering_metrics, pair_sums
from quanta.report.ordering_figures import rank_scatter_figure, top_purity, top_selection_figure

pytestmark = pytest.mark.usefixtures("one_thread")


def test_perfect_and_reversed_orders():
    y = np.array([0.5, 3.0, 1.0, 7.0, 2.0])
    perfect = ordering_metrics(y, 10 * y + 1)  # any increasing score
    assert perfect == pytest.approx(
        {"kendall_tau": 1, "pairwise_accuracy": 1, "spearman_rho": 1, "ndcg": 1, "ndcg_at_10": 1}
    )
    reversed_ = ordering_metrics(y, -y)
    assert reversed_["kendall_tau"] == pytest.approx(-1) and reversed_[
        "spearman_rho"
    ] == pytest.approx(-1)
    assert reversed_["pairwise_accuracy"] == pytest.approx(0, abs=1e-12)
    assert all(metric_goal(name) == "max" for name in perfect)


def test_ndcg_by_hand():
    # targets 3, 2, 1: gains 1, 0.5, 0; the score puts the middle one first
    expected = (0.5 / math.log2(2) + 1 / math.log2(3)) / (1 + 0.5 / math.log2(3))
    assert ndcg([3, 2, 1], [0.5, 0.9, 0.1]) == pytest.approx(expected)  # 0.8597
    assert ndcg([3, 2, 1], [0.5, 0.9, 0.1], top=1) == pytest.approx(0.5)
    assert gains(np.array([4.0, 1.0, 4.0, 2.0])) == pytest.approx(
        [5 / 6, 0, 5 / 6, 1 / 3]
    )  # ties: mid-ranks


def test_against_scipy_and_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = np.round(rng.normal(size=400), 1)
    s = np.round(y + rng.normal(size=400), 1)
    metrics = ordering_metrics(y, s)
    assert metrics["kendall_tau"] == pytest.approx(kendalltau(y, s).statistic)
    assert metrics["spearman_rho"] == pytest.approx(spearmanr(y, s).statistic)
    g = gains(y)
    assert metrics["ndcg"] == pytest.approx(ndcg_score(g[None], s[None]))
    assert metrics["ndcg_at_10"] == pytest.approx(ndcg_score(g[None], s[None], k=10))
    dy, ds = np.sign(y[:, None] - y[None]), np.sign(s[:, None] - s[None])
    untied = dy != 0
    brute = (np.sum((dy * ds > 0) & untied) + 0.5 * np.sum((ds == 0) & untied)) / np.sum(untied)
    assert metrics["pairwise_accuracy"] == pytest.approx(brute)


def test_weights_count_like_repeated_samples():
    rng = np.random.default_rng(1)
    y, s = rng.normal(size=50), rng.normal(size=50)
    w = rng.integers(1, 4, size=50)
    weighted = ordering_metrics(y, s, weight=w)
    repeated = ordering_metrics(np.repeat(y, w), np.repeat(s, w))
    for name in ("kendall_tau", "pairwise_accuracy", "spearman_rho"):
        assert weighted[name] == pytest.approx(repeated[name]), name
    assert pair_sums(y, s, np.ones(50)) == pytest.approx(pair_sums(y, s))


def test_a_large_weighted_list_samples_its_pairs():
    rng = np.random.default_rng(2)
    n = ordering.EXACT_PAIRS + 1000
    y = rng.normal(size=n)
    s = y + rng.normal(size=n)
    sampled = ordering_metrics(y, s, weight=np.ones(n))
    exact = ordering_metrics(y, s)
    assert sampled["kendall_tau"] == pytest.approx(exact["kendall_tau"], abs=0.003)
    assert sampled["pairwise_accuracy"] == pytest.approx(exact["pairwise_accuracy"], abs=0.002)


def test_groups_are_ranked_on_their_own():
    y = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 5.0])
    s = np.array([7.0, 8.0, 9.0, 0.0, 1.0, 2.0, 4.0])  # right within groups, wrong across them
    group = np.array([0, 0, 0, 1, 1, 1, 2])  # group 2 has one sample: nothing to order
    grouped = ordering_metrics(y, s, group=group)
    assert grouped["kendall_tau"] == pytest.approx(1) and grouped["ndcg"] == pytest.approx(1)
    assert ordering_metrics(y, s)["kendall_tau"] < 0
    mixed = ordering_metrics(y, np.array([7.0, 8.0, 9.0, 2.0, 1.0, 0.0, 4.0]), group=group)
    assert mixed["kendall_tau"] == pytest.approx(0)  # +1 and -1, averaged
    with pytest.raises(
        UserError, match=r"group: expected 7 values \(one per sample\), received shape \(3,\)"
    ):
        ordering_metrics(y, s, group=[0, 1, 2])


def test_undefined_and_bad_inputs():
    constant = ordering_metrics([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert math.isnan(constant["kendall_tau"]) and math.isnan(constant["spearman_rho"])
    assert constant["pairwise_accuracy"] == 0.5  # every pair a tie of the score
    with pytest.raises(UserError, match="one target and one score per sample"):
        ordering_metrics(np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(UserError, match="score: 1 of 3 values are NaN or Inf"):
        ordering_metrics([1, 2, 3], [0.1, np.nan, 0.3])


def test_top_purity_and_the_figures():
    y = np.arange(200.0)
    assert top_purity(y, y) == pytest.approx(1)
    assert top_purity(y, -y)[:49].max() == 0  # the lowest scores first: no overlap below one half
    noisy = y + np.random.default_rng(0).normal(scale=30, size=200)
    purity = top_purity(y, noisy)
    assert purity[9] > 0.3 and purity[-1] == 1  # the top 10 %: well above a random 0.1
    methods = {"perfect": (y, y), "noisy": (y, noisy)}
    assert len(rank_scatter_figure(methods).axes) == 2
    assert len(top_selection_figure(methods).axes) == 1
