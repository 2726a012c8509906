"""one_hot and bag_of_words: categories and token counts before every scikit-learn method."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import yaml

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.methods.sklearn import ScikitLearnMethod
from quanta.registry import parameters
from quanta.tasks import TASKS
from tests.conftest import quanta_here


def b_tagged(n: int = 4000, seed: int = 0) -> Dataset:
    """Events with a jet pT (GeV) and a number of b-tagged jets, 0 to 4; signal is rich in two.

    The signal fraction rises with pT and peaks at two b-tags: not monotonic in the code, so a
    linear model of the raw code cannot use it. The Bayes-optimal AUC is 0.82 (10^5 events).
    """
    rng = np.random.default_rng(seed)
    n_btags = rng.integers(0, 5, n)
    pt = rng.exponential(80.0, n) + 30.0
    logit = 3.0 * (n_btags == 2) - 1.5 + 0.01 * (pt - 110.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x = np.stack([pt, n_btags], axis=1).astype(np.float32)
    return Dataset({"x": x, "y": y}, name="b-tags", feature_names=["jet_pt", "n_btags"])


def test_every_scikit_learn_method_takes_the_encodings_from_one_declaration():
    for name in METHODS.names():
        factory = METHODS.get(name)
        if issubclass(factory, ScikitLearnMethod):
            accepted = parameters(factory)
            assert accepted["one_hot"].kind is inspect.Parameter.KEYWORD_ONLY, name
            assert accepted["bag_of_words"].default == (), name
            assert METHODS.create(name, one_hot=["a"]).one_hot == ("a",)
    with pytest.raises(UserError, match=r"^m: one_hot must be a list of feature names; received 3"):
        METHODS.create("logistic_regression", where="m", one_hot=3)


def test_one_hot_lets_a_linear_model_use_a_category_that_is_not_monotonic(tmp_path):
    data = b_tagged()
    raw = quanta.fit("logistic_regression", data)
    coded = quanta.fit("logistic_regression", data, params={"one_hot": ["n_btags"]})
    # measured: raw code 0.63 (only pT helps), one-hot 0.84 (the Bayes limit is 0.82 on 10^5 events)
    assert raw.metrics["test"]["auc"] < 0.7 and coded.metrics["test"]["auc"] > 0.8
    sgd = quanta.fit("sgd", data, params={"one_hot": ["n_btags"]})
    assert sgd.metrics["test"]["auc"] > 0.8
    assert coded.estimator.column_names(data) == ["jet_pt"] + [f"n_btags={k}" for k in range(5)]

    coded.save(tmp_path / "run")
    loaded = quanta.load_run(tmp_path / "run")
    assert np.array_equal(loaded.predict(data), coded.predict(data))
    unseen = data.x[:4].copy()
    unseen[:3, 1] = 7  # a category training never saw
    with pytest.warns(UserWarning, match=r"logistic_regression: one_hot: feature 'n_btags' has 3 "
                                         r"rows with a category not seen in training \(e\.g\. 7\)"):
        scores = loaded.predict(unseen)
    assert np.isfinite(scores).all()


def test_bag_of_words_counts_tokens_of_a_sequence():
    """Is symbol 3 in the sequence twice or more? A cut on one count, on no linear sum of steps."""
    data = quanta.data.load("sequences", task="palindrome", encoding="index", size=4000, seed=1)
    twice = ((data["symbols"] == 3).sum(axis=1) >= 2).astype(np.int64)  # symbol 3 is token 4
    data = data.with_arrays(y=twice)
    raw = quanta.fit("logistic_regression", data)
    counted = quanta.fit("logistic_regression", data, params={"bag_of_words": ["symbol_plus_1"]})
    # measured: positions 0.68, counts 1.00
    assert raw.metrics["test"]["auc"] < 0.75 and counted.metrics["test"]["auc"] > 0.99
    names = counted.estimator.column_names(data)
    assert names == [f"count(symbol_plus_1={token})" for token in range(1, 11)]  # no padding 0


def test_bag_of_words_through_an_experiment_file(tmp_path):
    """The adding problem: the sum of the symbols is linear in their counts (R^2 of 1)."""
    config = {"name": "words", "task": "regression",
              "data": {"source": "sequences", "task": "sum", "encoding": "index", "size": 3000},
              "methods": [{"name": "sgd", "method": "sgd",
                           "params": {"bag_of_words": ["symbol_plus_1"]}}]}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "words").iterdir()
    assert json.loads((run / "metrics.json").read_text())["sgd"]["test"]["r2"] > 0.999
    recorded = yaml.safe_load((run / "config.yaml").read_text())["methods"][0]["params"]
    assert recorded["bag_of_words"] == ["symbol_plus_1"] and recorded["one_hot"] == []

    config["methods"][0]["params"]["bag_of_words"] = ["symbol"]
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("quanta: error: sgd: bag_of_words: unknown feature 'symbol'; "
                                   "did you mean 'symbol_plus_1'? allowed: symbol_plus_1, marker")


@pytest.mark.parametrize("params, message", [
    ({"one_hot": ["jet_pt"]},
     "logistic_regression: one_hot: feature 'jet_pt' holds values that are not whole numbers "
     "(e.g. 30.0"),
    ({"one_hot": ["n_btags"], "bag_of_words": ["n_btags"]},
     "logistic_regression: feature 'n_btags' is in both one_hot and bag_of_words; "
     "give it to one of them"),
])
def test_encodings_refuse_what_they_cannot_encode(params, message):
    with pytest.raises(UserError, match=f"^{message}".replace("(", r"\(").replace(".", r"\.")):
        quanta.fit("logistic_regression", b_tagged(300), params=params)


def test_a_measured_quantity_or_unnamed_inputs_are_not_encoded():
    many = Dataset({"x": np.arange(3000, dtype=np.float32)[:, None], "y": np.arange(3000) % 2},
                   feature_names=["run_number"])
    with pytest.raises(UserError, match=r"one_hot: feature 'run_number' takes more than 1,000 "):
        quanta.fit("logistic_regression", many, params={"one_hot": ["run_number"]})
    unnamed = (np.zeros((50, 2), np.float32), np.arange(50) % 2)
    with pytest.raises(UserError, match=r"one_hot names features, but these inputs have no names"):
        quanta.fit("logistic_regression", unnamed, params={"one_hot": ["n_btags"]})


def test_a_saved_encoding_rebuilds_scikit_learn_classes_only(tmp_path):
    data = b_tagged(500)
    fitted = METHODS.create("sgd", epochs=2, one_hot=["n_btags"])
    fitted.fit(data, None, TASKS.create("binary")).save(tmp_path)
    state = json.loads((tmp_path / "sklearn.json").read_text())
    assert state["inputs"]["dict"]["encoder"]["estimator"].startswith("sklearn.preprocessing")
    assert np.array_equal(METHODS.get("sgd").load(tmp_path).predict(data), fitted.predict(data))
    state["inputs"]["dict"]["encoder"]["estimator"] = "os:system"
    (tmp_path / "sklearn.json").write_text(json.dumps(state))
    with pytest.raises(UserError, match=r"cannot read saved sgd \(refusing to rebuild os:system\)"):
        METHODS.get("sgd").load(tmp_path)
