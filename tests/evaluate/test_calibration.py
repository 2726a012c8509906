"""Calibration of classifiers (reliability curve, expected calibration error) and coverage of
the uncertainties a regression predicts (intervals prediction ± z sigma, Gaussian NLL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.calibration import calibration_curve

import quanta
from quanta.errors import UserError
from quanta.evaluate import metric_goal
from quanta.evaluate.binary import binary_metrics, expected_calibration_error, reliability_curve
from quanta.evaluate.multiclass import multiclass_metrics, top_label_calibration_error
from quanta.evaluate.regression import (
    coverage,
    coverage_curve,
    gaussian_level,
    gaussian_nll,
    uncertainty_metrics,
)
from quanta.tasks.evaluation import BINARY, EVALUATIONS, MULTICLASS, REGRESSION


def _calibrated(n: int, seed: int = 0):
    """Probabilities p ~ U(0, 1) and labels drawn with exactly that probability of signal."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return (rng.random(n) < p).astype(np.int64), p


# -- classifiers ---------------------------------------------------------------------------------
def test_ece_of_a_known_case():
    # bin 0.1-0.2: two events at 0.15, one signal (observed 0.5, |0.5 - 0.15| = 0.35)
    # bin 0.9-1.0: two events at 0.95 and 1.0 (the edge belongs to the last bin), both signal
    y = [0, 1, 1, 1]
    p = [0.15, 0.15, 0.95, 1.0]
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.35 + 0.5 * 0.025)
    curve = reliability_curve(y, p)
    assert curve.events.tolist() == [2, 2] and curve.fraction.tolist() == [0.5, 0.5]
    assert np.all(curve.low <= curve.observed) and np.all(curve.observed <= curve.high)
    assert curve.high[1] == 1.0 and curve.low[1] < 0.9  # two of two: an interval, not a point


def test_reliability_curve_matches_scikit_learn_and_ece_tells_calibrated_from_not():
    y, p = _calibrated(20_000)
    curve = reliability_curve(y, p**2)
    observed, predicted = calibration_curve(y, p**2, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(curve.observed, observed, atol=1e-12)
    np.testing.assert_allclose(curve.predicted, predicted, atol=1e-12)
    assert expected_calibration_error(y, p) < 0.015  # measured 0.005: only chance
    assert expected_calibration_error(y, p**2) > 0.15  # measured 0.167: p^2 underestimates


def test_integer_weights_count_as_repeated_events():
    rng = np.random.default_rng(3)
    y, p = _calibrated(400, seed=3)
    weight = rng.integers(1, 4, 400)
    repeated = np.repeat(np.arange(400), weight)
    assert expected_calibration_error(y, p, weight) == pytest.approx(
        expected_calibration_error(y[repeated], p[repeated]), abs=1e-12)
    scores = np.stack([1 - p, p], axis=1)
    assert top_label_calibration_error(y, scores, weight) == pytest.approx(
        top_label_calibration_error(y[repeated], scores[repeated]), abs=1e-12)


def test_ece_is_in_the_metrics_only_for_probabilities():
    y, p = _calibrated(1000)
    assert binary_metrics(y, p)["ece"] == pytest.approx(expected_calibration_error(y, p))
    assert "ece" not in binary_metrics(y, 4 * p - 2)  # a discriminant, not a probability
    with pytest.raises(UserError, match=r"score: a reliability curve needs probabilities in \[0, 1\]"):
        reliability_curve(y, 4 * p - 2)


def test_top_label_ece_of_a_known_case_and_logits_are_left_out():
    scores = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])
    y = np.array([0, 2, 2, 2])
    # confidence 0.8: one right of two (|0.5 - 0.8|); 0.6 right (0.4); 0.4 right (0.6)
    assert multiclass_metrics(y, scores)["ece"] == pytest.approx(0.5 * 0.3 + 0.25 * 0.4 + 0.25 * 0.6)
    assert "ece" not in multiclass_metrics(y, np.log(scores))


def test_calibration_metrics_are_lower_is_better_and_coverage_ranks_nothing():
    assert metric_goal("ece") == "min" and metric_goal("gaussian_nll") == "min"
    assert metric_goal("coverage_68") is None and metric_goal("coverage_95") is None


def test_a_fitted_classifier_reports_its_ece():
    """Logistic regression on data whose signal probability is logistic in x is calibrated; a
    tree grown until its leaves are pure says 0 or 1 and is wrong about a quarter of the time."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6000, 2)).astype(np.float32)
    y = (rng.random(6000) < 1 / (1 + np.exp(-(2 * x[:, 0] - x[:, 1])))).astype(np.int64)
    calibrated = quanta.fit("logistic_regression", (x, y), task="binary")
    assert calibrated.metrics["test"]["ece"] < 0.07, calibrated.metrics["test"]  # measured 0.039
    overconfident = quanta.fit("decision_tree", (x, y), task="binary",
                               params={"max_depth": 0, "min_samples_leaf": 1})
    assert overconfident.metrics["test"]["ece"] > 0.2  # measured 0.27 (0 on its training split)


# -- regression uncertainties --------------------------------------------------------------------
def test_uncertainty_metrics_of_a_known_case():
    y = np.array([0.0, 0.0, 0.0, 0.0])
    prediction = np.array([0.5, 1.5, 2.5, -0.2])
    sigma = np.ones(4)  # pulls 0.5, 1.5, 2.5, 0.2: two inside 1 sigma, three inside 2 sigma
    metrics = uncertainty_metrics(y, prediction, sigma)
    assert metrics["coverage_68"] == 0.5 and metrics["coverage_95"] == 0.75
    expected = -np.mean(norm.logpdf(y, prediction, sigma))
    assert metrics["gaussian_nll"] == pytest.approx(expected, rel=1e-12)
    assert gaussian_level(1.0) == pytest.approx(0.682689, abs=1e-6)
    assert gaussian_level(2.0) == pytest.approx(0.954500, abs=1e-6)
    json.dumps(metrics, allow_nan=False)


def test_honest_gaussian_uncertainties_cover_their_nominal_level():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.5, 3.0, 50_000)  # heteroscedastic: every sample its own width
    y = rng.normal(10.0, sigma)
    prediction = np.full_like(y, 10.0)
    metrics = uncertainty_metrics(y, prediction, sigma)
    assert metrics["coverage_68"] == pytest.approx(0.6827, abs=0.006)
    assert metrics["coverage_95"] == pytest.approx(0.9545, abs=0.004)
    assert uncertainty_metrics(y, prediction, 0.5 * sigma)["coverage_68"] < 0.45  # overconfident
    levels = np.linspace(0.05, 0.99, 20)
    np.testing.assert_allclose(coverage_curve(y, prediction, sigma, levels), levels, atol=0.01)
    honest = metrics["gaussian_nll"]
    assert honest < uncertainty_metrics(y, prediction, 2 * sigma)["gaussian_nll"]
    assert honest < uncertainty_metrics(y, prediction, 0.5 * sigma)["gaussian_nll"]


def test_weights_and_several_targets():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(300, 2))
    prediction = np.zeros_like(y)
    sigma = np.stack([np.ones(300), 0.3 * np.ones(300)], axis=1)
    weight = rng.integers(1, 4, 300)
    repeated = np.repeat(np.arange(300), weight)
    weighted = uncertainty_metrics(y, prediction, sigma, weight)
    assert weighted == pytest.approx(uncertainty_metrics(y[repeated], prediction[repeated],
                                                         sigma[repeated]), abs=1e-12)
    per_target = coverage(y, prediction, sigma, 1.0, weight)
    assert per_target.shape == (2,) and weighted["coverage_68"] == pytest.approx(per_target.mean())
    assert gaussian_nll(y, prediction, sigma).shape == (2,)
    curve = coverage_curve(y, prediction, sigma, [gaussian_level(1.0)], weight)
    assert curve[0] == pytest.approx(weighted["coverage_68"], abs=1e-9)


@pytest.mark.parametrize(("sigma", "message"), [
    (np.ones(3), "arrays must have one value per sample: prediction has 4, uncertainty has 3"),
    (np.array([1.0, 0.0, -1.0, 1.0]), "uncertainty: standard deviations must be positive; 2 of 4"),
    (np.array([1.0, np.nan, 1.0, 1.0]), "uncertainty: 1 of 4 values are NaN or Inf"),
    (np.ones((4, 2)), r"uncertainty: expected one standard deviation per prediction \(4, 1\)"),
])
def test_bad_uncertainties_are_one_line_errors(sigma, message):
    with pytest.raises(UserError, match=message):
        uncertainty_metrics(np.zeros(4), np.zeros(4), sigma)


def test_only_regression_evaluates_uncertainties():
    assert REGRESSION.uncertainty_metrics is uncertainty_metrics
    assert BINARY.uncertainty_metrics is None and MULTICLASS.uncertainty_metrics is None
    assert "reliability" in BINARY.figures and "reliability" in MULTICLASS.figures
    assert "coverage" in REGRESSION.figures
    assert all(e.uncertainty_metrics is None for name, e in EVALUATIONS.items() if name != "regression")
