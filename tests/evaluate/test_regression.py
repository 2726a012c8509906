"""Tests for quanta.evaluate.regression: errors, R^2, bias and resolution; figures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from quanta.errors import UserError
from quanta.evaluate.regression import (
    bias,
    mae,
    mse,
    r2,
    regression_metrics,
    resolution,
    rmse,
    robust_resolution,
    weighted_quantile,
)
from quanta.tasks.evaluation import metrics_for


def test_known_case():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    prediction = np.array([2.0, 2.0, 2.0, 6.0])  # residuals 1, 0, -1, 2
    assert mse(y, prediction) == pytest.approx(6 / 4)
    assert rmse(y, prediction) == pytest.approx(np.sqrt(1.5))
    assert mae(y, prediction) == pytest.approx(1.0)
    assert bias(y, prediction) == pytest.approx(0.5)
    assert resolution(y, prediction) == pytest.approx(np.std([1, 0, -1, 2]))
    assert r2(y, prediction) == pytest.approx(1 - 1.5 / 1.25)


def test_matches_sklearn_with_weights():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    prediction = y + rng.normal(0.1, 0.5, 500)
    weight = rng.uniform(0.2, 2.0, 500)
    assert mse(y, prediction, weight) == pytest.approx(mean_squared_error(y, prediction, sample_weight=weight))
    assert mae(y, prediction, weight) == pytest.approx(mean_absolute_error(y, prediction, sample_weight=weight))
    assert r2(y, prediction, weight) == pytest.approx(r2_score(y, prediction, sample_weight=weight))


def test_robust_resolution_ignores_outliers():
    rng = np.random.default_rng(1)
    y = rng.uniform(0.0, 100.0, 100_000)
    prediction = y + rng.normal(0.0, 2.0, y.size)
    assert robust_resolution(y, prediction) == pytest.approx(2.0, rel=0.02)
    assert resolution(y, prediction) == pytest.approx(2.0, rel=0.02)
    prediction[:1000] += 500.0  # 1% catastrophic failures
    assert robust_resolution(y, prediction) == pytest.approx(2.0, rel=0.05)
    assert resolution(y, prediction) > 20.0


def test_weighted_quantile_reduces_to_numpy_and_respects_weights():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.6])
    np.testing.assert_allclose(
        weighted_quantile(values, [0.16, 0.5, 0.84]), np.quantile(values, [0.16, 0.5, 0.84], method="inverted_cdf")
    )
    # weight 2 on a value is the same as the value appearing twice
    doubled = np.r_[values, values[:1]]
    weight = np.r_[2.0, np.ones(values.size - 1)]
    np.testing.assert_allclose(
        weighted_quantile(values, [0.3, 0.7], weight), np.quantile(doubled, [0.3, 0.7], method="inverted_cdf")
    )


def test_several_targets():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    prediction = y + np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(bias(y, prediction), [0.0, 1.0])
    metrics = regression_metrics(y, prediction)
    assert metrics["bias"] == pytest.approx(0.5)
    assert metrics["mse"] == pytest.approx(0.5)
    assert mse(y[:, :1], prediction[:, 0]) == pytest.approx(0.0)  # [N, 1] is [N]


def test_metrics_dict():
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    metrics = metrics_for("regression", y, y + 0.1)
    assert set(metrics) == {"mse", "rmse", "mae", "r2", "bias", "resolution", "resolution_robust"}
    assert all(type(v) is float for v in metrics.values())
    assert metrics["bias"] == pytest.approx(0.1) and metrics["resolution"] == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs_are_user_errors():
    with pytest.raises(UserError, match="one value per target"):
        mse(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(UserError, match="NaN or Inf"):
        mse([1.0, 2.0], [1.0, np.inf])
    with pytest.raises(UserError, match="weight"):
        mse([1.0, 2.0], [1.0, 2.0], weight=[1.0])


def test_figures_draw_without_pyplot():
    from matplotlib.figure import Figure

    from quanta.evaluate import figures

    rng = np.random.default_rng(3)
    y = rng.normal(50.0, 10.0, 3000)
    methods = {"bdt": (y, y + rng.normal(0, 3, y.size)), "mlp": (y, y + rng.normal(0, 2, y.size))}
    assert isinstance(figures.residuals_figure(methods), Figure)
    assert isinstance(figures.predicted_vs_true_figure(methods), Figure)
    history = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1.1 / e, "valid_r2": 1 - 1 / e} for e in range(1, 5)]
    assert isinstance(figures.loss_curves_figure({"mlp": history}), Figure)
    with pytest.raises(UserError, match="no methods"):
        figures.residuals_figure({})


def test_r2_of_a_constant_target_is_left_out_so_metrics_stay_finite():
    import json

    constant = np.full(50, 3.0)
    assert np.isnan(r2(constant, constant + 0.1))
    metrics = regression_metrics(constant, constant + 0.1)
    assert "r2" not in metrics and metrics["bias"] == pytest.approx(0.1)
    json.dumps(metrics, allow_nan=False)
    # with two targets, r2 averages the one that varies
    y = np.c_[constant, np.arange(50.0)]
    assert regression_metrics(y, y)["r2"] == pytest.approx(1.0)
