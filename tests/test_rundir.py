"""The run directory object: layout, atomic writes, the writing rank, damaged files."""

from __future__ import annotations

import numpy as np
import pytest

from quanta import fit
from quanta.errors import UserError
from quanta.report import read_run
from quanta.rundir import MethodDirectory, RunDirectory


def test_create_never_reuses_a_folder(tmp_path):
    first, second = RunDirectory.create(tmp_path), RunDirectory.create(tmp_path)
    assert first.path != second.path and first.path.is_dir() and second.path.is_dir()
    assert second.path.name.startswith(first.path.name)  # same second: a numbered suffix


def test_open_names_what_is_missing(tmp_path):
    with pytest.raises(UserError, match="no such run directory"):
        RunDirectory.open(tmp_path / "absent")
    (tmp_path / "config.yaml").write_text("name: x\n")
    with pytest.raises(UserError, match=r"not a quanta run directory \(missing environment.json\)"):
        RunDirectory.open(tmp_path)


def test_writes_are_atomic_and_read_back(tmp_path):
    run = RunDirectory.create(tmp_path)
    run.write_config("name: x\nmethods: [{name: bdt, method: boosted_trees}]\n")
    run.write_environment(seed=3, device="cpu")
    run.write_data({"feature_names": ["pt", "eta"]})
    folder = run.method("bdt").create()
    folder.write_history([{"epoch": 1, "loss": 0.5}])
    folder.append_history({"epoch": 2, "loss": 0.4})
    folder.write_predictions({"test_y": np.array([0, 1]), "test_score": np.array([0.2, 0.9])})
    folder.write_metrics({"test": {"auc": 1.0}}, {"fit": 0.1})
    run.write_metrics({"bdt": {"test": {"auc": 1.0}, "seconds": {"fit": 0.1}}})

    opened = RunDirectory.open(run.path)
    assert opened.read_config()["name"] == "x"
    assert opened.read_environment()["seed"] == 3
    assert opened.read_data() == {"feature_names": ["pt", "eta"]}
    again = opened.method("bdt")
    assert again.finished
    assert [r["epoch"] for r in again.read_history()] == [1, 2]
    assert again.read_metrics() == ({"test": {"auc": 1.0}}, {"fit": 0.1})
    np.testing.assert_array_equal(again.read_predictions()["test_score"], [0.2, 0.9])
    assert not list(run.path.rglob("*.tmp")), "a temporary file was left behind"
    record = read_run(run.path)
    assert record.methods[0].predictions["test"].score.tolist() == [0.2, 0.9]


def test_a_method_name_never_leaves_the_run_directory(tmp_path):
    run = RunDirectory.create(tmp_path)
    with pytest.raises(UserError, match="method name '../x' cannot name a folder"):
        run.method("../x")
    assert run.method("bdt.v2").path == run.path / "bdt.v2"


def test_a_non_writing_rank_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(UserError, match="only rank 0 creates a run directory"):
        RunDirectory.create(tmp_path / "runs")
    (tmp_path / "shared").mkdir()
    run = RunDirectory.create(tmp_path, name="shared")  # the name rank 0 chose
    assert not run.writer
    run.write_config("name: x\n")
    run.write_metrics({})
    folder = run.method("mlp").create()
    folder.write_history([{"epoch": 1}])
    folder.append_history({"epoch": 2})
    folder.write_predictions({"test_score": np.zeros(2)})
    assert not any((tmp_path / "shared").iterdir())
    monkeypatch.setenv("RANK", "0")
    assert MethodDirectory(tmp_path).writer


def test_a_damaged_history_is_named(tmp_path):
    folder = MethodDirectory(tmp_path)
    (tmp_path / "history.jsonl").write_text('{"epoch": 1}\n{"epoch": 2\n')
    with pytest.raises(UserError, match=r"history.jsonl: line 2 is not valid JSON"):
        folder.read_history()
    (tmp_path / "predictions.npz").write_bytes(b"not an archive")
    with pytest.raises(UserError, match=r"predictions.npz: not a NumPy .npz archive"):
        folder.read_predictions()


def test_a_run_writes_the_layout_the_module_describes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    run = fit("logistic_regression", (x, y), out=tmp_path, verbose=False)
    names = {p.relative_to(run.directory).as_posix() for p in run.directory.rglob("*") if p.is_file()}
    for name in (RunDirectory.CONFIG, RunDirectory.ENVIRONMENT, RunDirectory.DATA, RunDirectory.METRICS):
        assert name in names
    method = next(iter(run.experiment.results))
    for name in (MethodDirectory.METRICS, MethodDirectory.HISTORY, MethodDirectory.PREDICTIONS):
        assert f"{method}/{name}" in names
