"""sgd: a linear model trained by stochastic gradient descent, in memory and from a stream alike."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

import quanta
from quanta.data.dataset import Dataset, from_arrays
from quanta.data.files import files
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.tasks import TASKS
from tests.conftest import quanta_here
from tests.data.test_files import write
from tests.methods.test_sklearn_methods import gaussians


def test_sgd_learns_two_classes_as_logistic_regression_does():
    """The Bayes-optimal AUC of these classes is 0.898: logistic regression reaches it, SGD too."""
    data = gaussians(6000)
    for loss in ("log_loss", "hinge", "modified_huber"):
        run = quanta.fit("sgd", data, task="binary", params={"loss": loss})
        assert run.metrics["test"]["auc"] > 0.88, (loss, run.metrics["test"])
    history = run.history
    assert [record["epoch"] for record in history] == list(range(1, 11))
    assert {"train_loss", "valid_loss", "valid_auc"} <= set(history[-1])
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]  # the curve a report draws
    assert run.predict(data.x[:5]).shape == (5,)


def test_sgd_learns_several_classes_and_values():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 4, 6000)
    x = (rng.normal(size=(6000, 4)) + 2.0 * np.eye(4)[classes]).astype(np.float32)
    run = quanta.fit("sgd", (x, classes), task="multiclass")
    # one Gaussian cloud per class, 2 sigma apart on its own axis: logistic regression gets 0.83
    assert run.metrics["test"]["accuracy"] > 0.8 and run.predict(x[:3]).shape == (3, 4)
    hinge = quanta.fit("sgd", (x, classes), task="multiclass", params={"loss": "hinge"})
    assert hinge.metrics["test"]["accuracy"] > 0.8
    assert np.allclose(hinge.predict(x[:3]).sum(axis=1), 1.0, atol=1e-5)

    x = rng.normal(size=(6000, 6)).astype(np.float32)  # an energy in GeV: targets far from O(1)
    energy = 300 + 40 * x @ np.array([1, 2, -1, 0.5, 0, 0]) + 5 * rng.normal(size=6000)
    energy = energy.astype(np.float32)
    for loss in ("squared_error", "huber"):
        run = quanta.fit("sgd", (x, energy), task="regression", params={"loss": loss, "epochs": 20})
        assert run.metrics["test"]["rmse"] < 5.5, (loss, run.metrics["test"])  # the noise is 5 GeV
    assert run.history[-1]["valid_mse"] < 30


def test_in_memory_and_streamed_parts_give_the_same_model(tmp_path):
    """A stream of one chunk holds the rows of the in-memory part in the same order: one model."""
    rng = np.random.default_rng(2)
    label = rng.integers(0, 2, 3000)
    columns = {"a": rng.normal(label, 1.0), "b": rng.normal(0, 1, 3000),
               "weight": rng.uniform(0.5, 2, 3000), "flavour": rng.choice([11.0, 13.0, 15.0], 3000),
               "label": label}
    path = write(columns, tmp_path / "d.parquet")
    task = TASKS.create("binary")
    stream = files(paths=[path], features=["a", "b", "flavour"], label="label", weight="weight",
                   streaming="always", memory="64MB", chunk_rows=5000)
    train = stream.parts((0.7, 0.15, 0.15), 1, task.check_targets)["train"]
    assert train.streamed and len(train.chunks) == 1
    (chunk,) = list(train.in_chunks())
    in_memory = Dataset(dict(chunk.arrays), feature_names=train.feature_names)
    params = {"epochs": 3, "one_hot": ["flavour"]}
    streamed = METHODS.create("sgd", **params).fit(train, None, task)
    held = METHODS.create("sgd", **params).fit(in_memory, None, task)
    assert np.array_equal(streamed.learner_.coef_, held.learner_.coef_)
    def losses(history):
        return [{k: v for k, v in record.items() if "second" not in k} for record in history]

    assert losses(streamed.history) == losses(held.history)
    assert np.array_equal(streamed.predict(train), held.predict(in_memory))


def test_a_saved_model_predicts_alike_and_its_file_sets_no_other_attribute(tmp_path):
    data = gaussians(1000)
    part = data.subset(np.arange(800))
    for task, y in (("binary", part.y), ("regression", part.x[:, 0] * 2.0)):
        method = METHODS.create("sgd", epochs=2)
        method.fit(part.with_arrays(y=y), None, TASKS.create(task))
        method.save(tmp_path)
        loaded = METHODS.get("sgd").load(tmp_path)
        assert np.array_equal(loaded.predict(data), method.predict(data))
    state = json.loads((tmp_path / "sklearn.json").read_text())
    assert set(state["fitted"]) == {"scaler_", "target_scaler_", "loss_"}
    state["fitted"]["learner_"] = state["fitted"].pop("scaler_")  # a file sets no other attribute
    (tmp_path / "sklearn.json").write_text(json.dumps(state))
    refused = r"cannot read saved sgd \(unknown fitted attribute 'learner_'\)"
    with pytest.raises(UserError, match=refused):
        METHODS.get("sgd").load(tmp_path)


def test_a_loss_of_another_task_is_a_one_line_error():
    x, y = np.zeros((40, 2), np.float32), np.arange(40) % 2
    with pytest.raises(UserError, match=r"^sgd: loss 'hinge' does not fit task 'regression'; "
                                        r"allowed: auto, squared_error, huber$"):
        quanta.fit("sgd", (x, y.astype(np.float32)), task="regression", params={"loss": "hinge"})
    with pytest.raises(UserError, match=r"params: epochs must be an integer >= 1; received 0"):
        quanta.fit("sgd", (x, y), params={"epochs": 0})
    with pytest.raises(UserError, match=r"^sgd: the weights diverged in epoch 1 \(floating-point "
                                        r"overflow\); lower eta0 or use learning_rate: auto$"):
        quanta.fit("sgd", (x, y.astype(np.float32)), task="regression",
                   params={"learning_rate": "constant", "eta0": 1e200})
    with pytest.raises(UserError, match="sgd: task 'clustering' is not supported"):
        METHODS.create("sgd").fit(from_arrays(x, y), None, TASKS.create("clustering"))


def class_files(folder, rows: int = 2000, shards: int = 4) -> dict[str, str]:
    """Background and signal in separate files (as simulated samples come), 6 features."""
    folder.mkdir()
    for index in range(shards):
        for name, shift in (("background", 0.0), ("signal", 0.5)):
            rng = np.random.default_rng([index, int(shift * 10)])
            columns = {f"f{k}": rng.normal(shift, 1.0, rows) for k in range(6)}
            write(columns, folder / f"{name}{index}.parquet")
    return {name: str(folder / f"{name}*.parquet") for name in ("background", "signal")}


def test_sgd_learns_from_files_streamed_class_by_class(tmp_path):
    """``quanta run`` with ``streaming: always``: one class per file, read in chunks of 500 rows.

    The classes differ by 0.5 sigma in each of 6 features: the Bayes-optimal AUC is
    Phi(sqrt(6) 0.5 / sqrt(2)) = 0.807, the accuracy Phi(sqrt(6) 0.5 / 2) = 0.73. The shuffle
    buffer (2,500 rows) holds less than two files. Reading the chunks in a drawn order and mixing
    them is what lets SGD learn from files sorted by class: read in file order, the weights still
    rank (AUC 0.807) but the offset is the last file's (measured accuracy 0.51, calibration error
    0.39).
    """
    config = {"name": "streamed", "task": "binary",
              "data": {"source": "files", "classes": class_files(tmp_path / "files"),
                       "features": ["f*"], "streaming": "always", "memory": "500kB"},
              "methods": [{"name": "sgd", "method": "sgd", "params": {"epochs": 4}}]}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "streamed").iterdir()
    assert json.loads((run / "data.json").read_text())["streamed"]
    test = json.loads((run / "metrics.json").read_text())["sgd"]["test"]
    assert test["auc"] > 0.79 and test["accuracy"] > 0.7 and test["ece"] < 0.08, test
    lines = (run / "sgd" / "history.jsonl").read_text().splitlines()
    history = [json.loads(line) for line in lines]
    assert len(history) == 4 and history[-1]["valid_auc"] > 0.79
    assert "Training history" in (run / "report.html").read_text()


def test_a_method_that_cannot_stream_says_how_large_the_data_is_and_what_streams(tmp_path):
    rng = np.random.default_rng(3)
    label = rng.integers(0, 2, 1000)
    columns = {"a": rng.normal(label, 1.0), "b": rng.normal(0, 1, 1000), "label": label}
    write(columns, tmp_path / "d.parquet")
    config = {"name": "big", "task": "binary",
              "data": {"source": "files", "paths": ["d.parquet"], "label": "label",
                       "streaming": "always"},
              "methods": [{"name": "svm", "method": "svm"}]}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert not (tmp_path / "out").exists()  # refused before any work
    rows = int(re.search(r"\(([\d,]+) rows", line).group(1).replace(",", ""))
    assert 600 <= rows <= 800  # the train part of 1,000 rows
    assert line == ("quanta: error: svm: needs the training data in memory, and the training part "
                    f"is streamed from disk ({rows:,} rows x 2 inputs = {rows * 8 / 1000:.1f} kB "
                    "as float32); set data.streaming: never if that fits in memory, or use a "
                    "method that learns from a stream: sgd, boosted_trees")
    from quanta.methods.sklearn import STREAMING_METHODS

    assert all(name in METHODS for name in STREAMING_METHODS) and METHODS.get("sgd").streams
