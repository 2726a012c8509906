"""Methods on the scikit-learn base: they learn, save without pickle, reload identically, and share a report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.tasks import TASKS
from tests.conftest import xor_clouds


def gaussians(n: int = 1500, seed: int = 0):
    """Two Gaussian classes in 5 dimensions, separated along a line (linearly separable on average)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = (rng.normal(size=(n, 5)) + 1.2 * y[:, None] * np.array([1, -1, 0.5, 0, 0])).astype(np.float32)
    return from_arrays(x * 50.0 + 100.0, y)  # raw units: the base standardises for logistic regression


def halves(data, n_train: int):
    return data.subset(np.arange(n_train)), data.subset(np.arange(n_train, len(data)))


def test_logistic_regression_learns_a_linear_boundary_and_round_trips(tmp_path):
    from sklearn.metrics import roc_auc_score

    train, test = halves(gaussians(), 1000)
    method = METHODS.create("logistic_regression", C=0.5).fit(train, None, TASKS.create("binary"))
    score = method.predict(test)
    # the Bayes-optimal AUC of these classes is Phi(1.8 / sqrt(2)) = 0.898
    assert score.shape == (500,) and roc_auc_score(test.y, score) > 0.88
    method.save(tmp_path)
    assert np.array_equal(METHODS.get("logistic_regression").load(tmp_path).predict(test), score)


def test_random_forest_learns_xor_multiclass_and_regression(tmp_path):
    from sklearn.metrics import roc_auc_score

    x, y = xor_clouds(1200)
    train, test = halves(from_arrays(x, y), 900)
    forest = METHODS.create("random_forest", n_estimators=50).fit(train, None, TASKS.create("binary"))
    score = forest.predict(test)
    assert roc_auc_score(test.y, score) > 0.98  # a linear model cannot do this
    forest.save(tmp_path)
    assert json.loads((tmp_path / "sklearn.json").read_text())["method"] == "random_forest"
    with np.load(tmp_path / "sklearn.npz", allow_pickle=False) as stored:
        assert stored.files  # trees as plain arrays
    assert np.array_equal(METHODS.get("random_forest").load(tmp_path).predict(test), score)

    classes = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    train, test = halves(from_arrays(x, classes), 900)
    probabilities = METHODS.create("random_forest", n_estimators=30).fit(
        train, None, TASKS.create("multiclass")).predict(test)
    assert probabilities.shape == (300, 4) and np.mean(probabilities.argmax(1) == test.y) > 0.97

    target = (x[:, 0] * x[:, 1]).astype(np.float32)
    train, test = halves(from_arrays(x, target), 900)
    values = METHODS.create("random_forest", n_estimators=30).fit(train, None, TASKS.create("regression")).predict(test)
    assert np.corrcoef(values, test.y)[0, 1] > 0.9


def test_a_saved_file_naming_another_class_is_refused(tmp_path):
    train, _ = halves(gaussians(200), 150)
    METHODS.create("logistic_regression").fit(train, None, TASKS.create("binary")).save(tmp_path)
    state = json.loads((tmp_path / "sklearn.json").read_text())
    state["learner"]["estimator"] = "os:system"
    (tmp_path / "sklearn.json").write_text(json.dumps(state))
    with pytest.raises(UserError, match=r"sklearn.json: cannot read saved logistic_regression \(refusing to rebuild os:system\)"):
        METHODS.get("logistic_regression").load(tmp_path)


def test_unsupported_task_and_bad_parameters_are_one_line_errors():
    train, _ = halves(gaussians(200), 150)
    with pytest.raises(UserError, match="kmeans: task 'binary' is not supported; allowed: clustering"):
        METHODS.create("kmeans").fit(train, None, TASKS.create("binary"))
    import quanta

    with pytest.raises(UserError, match=r"params.max_features: input should be less than or equal to 1, received 2.0"):
        quanta.fit("random_forest", (train.x, train.y), params={"max_features": 2.0}, verbose=False)


def test_classical_methods_share_one_experiment_and_report(tmp_path):
    from quanta.experiment import run_experiment

    x, y = xor_clouds(1500)
    config = {"name": "classical", "task": "binary", "output": str(tmp_path),
              "methods": [{"name": "lr", "method": "logistic_regression"},
                          {"name": "forest", "method": "random_forest", "params": {"n_estimators": 40}},
                          {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 60}}]}
    run = run_experiment(config, data=from_arrays(x, y), verbose=False)
    auc = {name: metrics["test"]["auc"] for name, metrics in run.metrics.items()}
    assert auc["forest"] > 0.97 and auc["bdt"] > 0.97 and auc["lr"] < 0.7  # XOR defeats a linear boundary
    html = run.report().read_text()
    assert all(name in html for name in ("lr", "forest", "bdt")) and "ROC curves" in html
