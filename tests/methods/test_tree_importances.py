"""The trees' own importances in a method's ranking: XGBoost's gain, scikit-learn's impurity
decrease, summed over particle slots for sets; none for methods without trees.

Data: four variables of which only ``x2`` decides the label; every tree method must give it
most of its importance (measured: extra_trees 0.78, random_forest 0.81, adaboost 0.92,
boosted_trees 0.92, decision_tree 0.96 of the total; fully grown trees also split on noise).
"""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.data.dataset import Dataset
from quanta.methods.importance import IMPURITY_DECREASE, XGBOOST_GAIN, tree_importances
from quanta.rundir import MethodDirectory

#: small settings that keep every fit well under a second
TREES = {"boosted_trees": ({"n_estimators": 30, "n_jobs": 1}, XGBOOST_GAIN),
         "random_forest": ({"n_estimators": 20}, IMPURITY_DECREASE),
         "extra_trees": ({"n_estimators": 20}, IMPURITY_DECREASE),
         "decision_tree": ({"max_depth": 4}, IMPURITY_DECREASE),
         "adaboost": ({"n_estimators": 20}, IMPURITY_DECREASE)}


def one_signal_variable(n: int = 1500, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 2] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)


def ranking(run) -> dict:
    return MethodDirectory(run.result.directory).read_importance()


@pytest.mark.parametrize("method", list(TREES))
def test_trees_give_the_signal_variable_most_of_their_importance(method):
    params, measure = TREES[method]
    run = quanta.fit(method, one_signal_variable(), params=params)
    record = ranking(run)
    assert record["trees_measure"] == measure
    shares = {f["name"]: f["trees"] for f in record["features"]}
    assert set(shares) == {"x0", "x1", "x2", "x3"}
    assert sum(shares.values()) == pytest.approx(1.0)
    noise = max(shares["x0"], shares["x1"], shares["x3"])
    assert shares["x2"] > 0.7 and shares["x2"] > 5 * noise, shares


@pytest.mark.parametrize("method, params", [("logistic_regression", {}), ("knn", {}),
                                            ("kernel_map", {"n_components": 50}),
                                            ("hist_boosting", {"max_iter": 20, "n_jobs": 1})])
def test_methods_without_trees_own_importances_give_none(method, params):
    run = quanta.fit(method, one_signal_variable(600), params=params)
    record = ranking(run)
    assert "trees_measure" not in record and all("trees" not in f for f in record["features"])
    assert tree_importances(run.estimator, (4,)) is None


def test_a_network_has_no_trees_importances():
    run = quanta.fit("mlp", one_signal_variable(600), epochs=1)
    assert tree_importances(run.estimator, (4,)) is None


def test_a_particle_features_importance_is_summed_over_its_slots():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 5, 2)).astype(np.float32)
    y = (x[:, :, 1].sum(axis=1) > 0).astype(np.int64)  # feature "b" of every particle decides
    data = Dataset({"x": x, "mask": np.ones((1500, 5), bool), "y": y}, feature_names=["a", "b"])
    run = quanta.fit("boosted_trees", data, params={"n_estimators": 30, "n_jobs": 1})
    shares = {f["name"]: f["trees"] for f in ranking(run)["features"]}
    assert set(shares) == {"a", "b"} and shares["b"] > 0.8
    assert sum(shares.values()) == pytest.approx(1.0)
    per_slot = run.estimator.booster_.get_score(importance_type="total_gain")
    assert len(per_slot) > 2  # the trees split on several slots of "b": their gains were summed
