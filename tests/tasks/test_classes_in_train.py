"""A class missing from the train split is named before any training (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.errors import UserError
from tests.conftest import quanta_here


def test_a_multiclass_split_missing_classes_is_named_through_the_cli(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: digits\ntask: multiclass\ndata: {source: digits, size: 12}\nseed: 0\nmethods:\n"
        "  - {name: bdt, method: boosted_trees, params: {n_estimators: 5}}\n"
        "  - {name: lr, method: logistic_regression}\n")
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "quanta: error: data.split: classes 0, 3, 4, 7, 8 of 10 have no sample in the train split "
        "(8 of 12 samples); every class must be trained on: give more data or a larger train fraction")
    assert not (tmp_path / "out").exists()


def test_a_binary_split_without_signal_in_train_is_named():
    n, seed = 200, 1
    order = np.random.default_rng(seed).permutation(n)  # the split's shuffle: the first 140 train
    x = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    y = np.zeros(n, dtype=np.float32)
    y[order[150:152]] = 1  # the only two signal events, both outside train
    with pytest.raises(UserError, match=r"^data.split: class 1 of 2 has no sample in the train split "
                                        r"\(140 of 200 samples\)"):
        quanta.fit("logistic_regression", (x, y), seed=seed)


def test_every_class_in_train_trains():
    x = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0).astype(np.int64)
    run = quanta.fit("logistic_regression", (x, y), task="multiclass")
    assert run.metrics["test"]["accuracy"] > 0.8
