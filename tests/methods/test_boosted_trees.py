"""Boosted trees: learns, stops early on validation, saves as JSON and reloads identically."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.tasks import TASKS
from tests.conftest import xor_clouds


def split_xor():
    x, y = xor_clouds(1200)
    data = from_arrays(x, y)
    return data.subset(np.arange(800)), data.subset(np.arange(800, 1000)), data.subset(np.arange(1000, 1200))


def test_learns_xor_and_round_trips(tmp_path):
    from sklearn.metrics import roc_auc_score

    train, valid, test = split_xor()
    bdt = METHODS.create("boosted_trees", n_estimators=300, early_stopping_rounds=10)
    bdt.fit(train, valid, TASKS.create("binary"))
    score = bdt.predict(test)
    assert roc_auc_score(test.y, score) > 0.98
    assert len(bdt.history) < 300  # stopped early on the validation loss
    bdt.save(tmp_path)
    text = (tmp_path / "boosted_trees.json").read_text()
    assert text.startswith("{")  # JSON, not a pickle
    again = type(bdt).load(tmp_path)
    assert np.array_equal(again.predict(test), score)


def test_multiclass_and_regression():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = (np.eye(3)[y] * 2 + rng.normal(size=(600, 3))).astype(np.float32)
    data = from_arrays(x, y)
    bdt = METHODS.create("boosted_trees", n_estimators=50).fit(data, None, TASKS.create("multiclass"))
    assert bdt.predict(data).shape == (600, 3)
    target = (x[:, 0] * 2 + x[:, 1]).astype(np.float32)
    reg = METHODS.create("boosted_trees", n_estimators=200).fit(from_arrays(x, target), None, TASKS.create("regression"))
    assert np.mean((reg.predict(data) - target) ** 2) < 0.1


def test_errors(tmp_path):
    train, valid, _ = split_xor()
    with pytest.raises(UserError, match=r"subsample must be a fraction in \(0, 1\]; received 1.5"):
        METHODS.create("boosted_trees", subsample=1.5)
    with pytest.raises(UserError, match="unknown parameter 'depth'; did you mean 'max_depth'"):
        METHODS.create("boosted_trees", depth=3)
    with pytest.raises(UserError, match="no saved boosted trees"):
        METHODS.get("boosted_trees").load(tmp_path)
    (tmp_path / "boosted_trees.json").write_bytes(b"\x80\x04garbage")
    (tmp_path / "boosted_trees.meta.json").write_text("{}")
    with pytest.raises(UserError, match="cannot read"):
        METHODS.get("boosted_trees").load(tmp_path)
    with pytest.raises(RuntimeError, match="call fit first"):
        METHODS.create("boosted_trees").predict(train)


def test_a_bad_hyperparameter_is_refused_before_any_data_is_made(tmp_path):
    from tests.conftest import run_quanta

    (tmp_path / "e.yaml").write_text("data: {source: jets, size: 300}\n"
                                     "methods: [{name: bdt, method: boosted_trees, params: {n_estimators: 0}}]\n")
    done = run_quanta("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("quanta: error: methods[0].params: n_estimators must be an integer >= 1 (rounds); "
                                   "received 0")
    assert not (tmp_path / "runs").exists()


class Recorder:
    """A training callback that writes down what it is told."""

    def __init__(self):
        self.calls = []

    def on_fit_start(self, trainer):
        self.calls.append("start")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append((epoch, dict(logs)))

    def on_fit_end(self, trainer):
        self.calls.append("end")


def test_training_callbacks_see_every_round(tmp_path):
    from quanta import fit

    x, y = xor_clouds(600)
    recorder = Recorder()
    run = fit("boosted_trees", (x, y), params={"n_estimators": 40, "early_stopping_rounds": 5}, out=tmp_path,
              verbose=False, callbacks=[recorder])
    history = run.result.estimator.history
    assert recorder.calls[0] == "start" and recorder.calls[-1] == "end"
    rounds = recorder.calls[1:-1]
    assert [epoch for epoch, _ in rounds] == list(range(1, len(history) + 1))
    assert [logs for _, logs in rounds] == history
    assert all(set(logs) == {"epoch", "train_loss", "valid_loss"} for logs in history)
    logistic = Recorder()
    fit("logistic_regression", (x, y), out=tmp_path, verbose=False, callbacks=[logistic])
    assert logistic.calls == ["start", "end"]
