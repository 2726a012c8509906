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


def _scikit_learn_methods() -> list[str]:
    from quanta.methods.sklearn import ScikitLearnMethod

    return [name for name in METHODS.names() if issubclass(METHODS.get(name), ScikitLearnMethod)]


def _named_classes(node, found):
    """Every place a saved state names a class to rebuild: (the dict, its key), in file order."""
    if isinstance(node, dict):
        for key in ("estimator", "object", "generator"):
            if isinstance(node.get(key), str):
                found.append((node, key))
        for value in node.values():
            _named_classes(value, found)
    elif isinstance(node, list):
        for value in node:
            _named_classes(value, found)
    return found


HOSTILE = ("os:system", "builtins:eval", "sklearn.datasets:dump_svmlight_file",
           "sklearn.datasets._base:urlretrieve")  # a shell, Python, a file writer, a download


@pytest.mark.parametrize("method", _scikit_learn_methods())
def test_loading_any_method_runs_no_code_a_file_names(method, tmp_path, monkeypatch):
    """Each class a saved state names (the first place each one is named: estimators, compiled
    trees, search trees, calibrators, random generators) may be replaced by a callable an
    attacker wants run: loading refuses it, and nothing is called."""
    import os

    task = {"kmeans": "clustering", "gaussian_mixture": "clustering", "pca": "embedding"}.get(method, "binary")
    train, _ = halves(gaussians(400), 350)
    small = {"random_forest": {"n_estimators": 5}, "extra_trees": {"n_estimators": 5},
             "adaboost": {"n_estimators": 5}, "hist_boosting": {"max_iter": 5, "n_jobs": 1}}
    fitted = METHODS.create(method, **small.get(method, {})).fit(train, None, TASKS.create(task))
    fitted.save(tmp_path)
    saved = (tmp_path / "sklearn.json").read_text()
    first = {}
    for position, (node, key) in enumerate(_named_classes(json.loads(saved), [])):
        first.setdefault(node[key], position)
    assert first, "a saved state names the classes it rebuilds"
    called = []
    monkeypatch.setattr(os, "system", lambda *args: called.append(args))
    for hostile in HOSTILE:
        for position in first.values():
            state = json.loads(saved)
            node, key = _named_classes(state, [])[position]
            node[key] = hostile
            (tmp_path / "sklearn.json").write_text(json.dumps(state))
            refused = (rf"sklearn.json: cannot read saved {method} \(refusing to rebuild (a )?"
                       rf"{hostile}( \(not a scikit-learn class\)| random generator)?\)")
            with pytest.raises(UserError, match=refused):
                METHODS.get(method).load(tmp_path)
    assert not called


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
