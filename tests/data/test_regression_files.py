"""Regression from a physicist's own files, and cuts written as ROOT writes them (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import quanta as qt
from tests.conftest import quanta_here
from tests.data.test_files import write


def energies(n: int, seed: int) -> dict[str, np.ndarray]:
    """Calorimeter-like rows: four measured features and a true energy of O(100) GeV."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 4))
    true_e = 120.0 + 30.0 * f[:, 0] + 10.0 * f[:, 1] * f[:, 2] + rng.normal(0, 2.0, n)
    true_eta = 0.8 * f[:, 3] + rng.normal(0, 0.05, n)
    return {"f0": f[:, 0], "f1": f[:, 1], "f2": f[:, 2], "f3": f[:, 3], "true_e": true_e, "true_eta": true_eta,
            "cls": rng.integers(1, 3, n)}


def experiment(paths: list[str], label, streaming: str = "never", epochs: int = 25) -> dict:
    return {"name": "energy", "task": "regression", "seed": 3,
            "data": {"source": "files", "paths": paths, "features": ["f*"], "label": label, "streaming": streaming},
            "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [64, 64]},
                         "train": {"epochs": epochs, "batch_size": 128, "lr": 3e-3, "progress": False}}]}


@pytest.mark.parametrize("streaming", ["never", "always"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".h5", ".root"])
def test_a_continuous_label_is_a_regression_target(tmp_path, suffix, streaming):
    paths = [write(energies(1500, seed), tmp_path / f"part{seed}{suffix}") for seed in (1, 2)]
    run = qt.run_experiment(experiment(paths, "true_e", streaming), out=tmp_path / "runs", verbose=False,
                            report=False)
    test = run.metrics["mlp"]["test"]
    assert test["r2"] > 0.93, test  # in GeV: the scaled targets are scaled back
    assert abs(test["bias"]) < 3.0, test
    history = run.results["mlp"].history
    assert history[0]["train_loss"] < 2.0  # scaled units: a loss of O(1), not O(10^4)


def test_several_labels_and_an_expression_are_targets(tmp_path):
    paths = [write(energies(2000, 1), tmp_path / "a.parquet")]
    run = qt.run_experiment(experiment(paths, ["true_e / 100", "true_eta"]), out=tmp_path / "runs",
                            verbose=False, report=False)
    estimator = run.results["mlp"].estimator
    assert estimator.target_scaling.mean_.shape == (2,)
    assert run.metrics["mlp"]["test"]["r2"] > 0.9


def test_targets_are_not_scaled_when_asked_not_to(tmp_path):
    paths = [write(energies(1500, 1), tmp_path / "a.parquet")]
    config = experiment(paths, "true_e", epochs=2)
    config["methods"][0]["train"]["standardize_targets"] = False
    run = qt.run_experiment(config, out=tmp_path / "runs", verbose=False, report=False)
    assert run.results["mlp"].estimator.target_scaling is None
    assert run.results["mlp"].history[0]["train_loss"] > 1000  # raw GeV^2: the crawl the default avoids


def user_error(done, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_a_binary_task_with_labels_one_and_two_names_the_file(tmp_path):
    path = write(energies(300, 1), tmp_path / "a.parquet")
    config = experiment([path], "cls")
    config["task"] = "binary"
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    user_error(quanta_here("run", "e.yaml", cwd=tmp_path),
               f"{path}: label 'cls': task 'binary' needs labels 0 and 1, received values [1, 2]")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("field, expression, message", [
    ("selection", "f0 >> 1", "data.selection: expression 'f0 >> 1': not valid syntax (unexpected '>')"),
    ("selection", "f0 > 1 &", "data.selection: expression 'f0 > 1 &': not valid syntax (it ends too early)"),
    ("label", "true_e ^ 2", "data.label: expression 'true_e ^ 2': '^' is not allowed (write ** for a power)"),
])
def test_an_expression_error_names_its_field(tmp_path, field, expression, message):
    path = write(energies(300, 1), tmp_path / "a.parquet")
    config = experiment([path], "true_e")
    config["data"][field] = expression
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    user_error(quanta_here("run", "e.yaml", cwd=tmp_path), message)


@pytest.mark.parametrize("cut", [
    "jet_pt > 500 & abs(jet_eta) < 2", "jet_pt > 500 && abs(jet_eta) < 2", "jet_pt > 500 and abs(jet_eta) < 2",
    "(jet_pt > 500) & (abs(jet_eta) < 2)", "!(jet_pt <= 500) && !(fabs(jet_eta) >= 2)",
    "not (jet_pt <= 500 || abs(jet_eta) >= 2)",
])
def test_cuts_as_root_writes_them(tmp_path, cut):
    rng = np.random.default_rng(0)
    columns = {"jet_pt": rng.uniform(300, 800, 400), "jet_eta": rng.normal(0, 1.5, 400),
               "flag": rng.integers(0, 8, 400), "label": rng.integers(0, 2, 400)}
    path = write(columns, tmp_path / "a.root")
    data = qt.data.load("files", paths=[path], features=["jet_pt", "jet_eta"], label="label", selection=cut)
    expected = (columns["jet_pt"] > 500) & (np.abs(columns["jet_eta"]) < 2)
    assert len(data) == expected.sum()
    bits = qt.data.load("files", paths=[path], features=["jet_pt"], label="label", selection="(flag & 4) != 0")
    assert len(bits) == ((columns["flag"] & 4) != 0).sum()  # & on integers stays bitwise


def readme_block(containing: str) -> str:
    text = (Path(__file__).parent.parent.parent / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return next(block for block in blocks if containing in block)


def test_the_readme_own_files_example_runs_as_written(tmp_path):
    rng = np.random.default_rng(5)
    for kind, shift in (("qcd", 0.0), ("top", 1.0)):
        folder = tmp_path / "data" / kind
        folder.mkdir(parents=True)
        for index in range(2):
            n = 300
            columns = {"jet_pt": rng.uniform(400, 900, n), "jet_eta": rng.normal(0, 1.4, n),
                       "tau21": rng.normal(0.6 - 0.3 * shift, 0.1, n), "tau32": rng.normal(0.7 - 0.3 * shift, 0.1, n)}
            write(columns, folder / f"f{index}.root")
    config = yaml.safe_load(readme_block("source: files\n  classes"))
    config["methods"] = [{"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 50}}]
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = next((tmp_path / "runs").rglob("data.json"))
    data = yaml.safe_load(record.read_text())
    assert data["feature_names"] == ["log_pt", "jet_eta", "tau21", "tau32"]
    assert 0 < sum(data["split"].values()) < 1200  # the cut kept some rows, not all


def test_run_predict_files_after_fit_on_a_files_data_set(tmp_path):
    rng = np.random.default_rng(2)
    for kind, shift in (("bkg", 0.0), ("sig", 1.5)):
        (tmp_path / kind).mkdir()
        columns = {"a": rng.normal(shift, 1, 400), "b": rng.normal(0, 1, 400)}
        columns["log_a2"] = np.log(columns["a"] ** 2 + 1)  # a column training does not use
        write(columns, tmp_path / kind / "f.root")
    data = qt.data.load("files", classes={"bkg": str(tmp_path / "bkg/*.root"), "sig": str(tmp_path / "sig/*.root")},
                        features=["a", "b", "s"], derived={"s": "a * b"}, selection="abs(b) < 3")
    run = qt.fit("boosted_trees", data, params={"n_estimators": 30}, out=tmp_path / "runs", verbose=False)
    scores = run.predict(str(tmp_path / "sig" / "f.root"))
    kept = qt.data.load("files", paths=[str(tmp_path / "sig" / "f.root")], features=["a", "b", "s"],
                        derived={"s": "a * b"}, selection="abs(b) < 3")
    assert scores.shape == (len(kept),)
    assert np.allclose(np.sort(scores), np.sort(run.predict(kept.x)))  # the source shuffles rows
    done = quanta_here("predict", str(run.directory), str(tmp_path / "sig" / "f.root"), "--out", "out.parquet",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq

    assert np.allclose(pq.read_table(tmp_path / "out.parquet")["score_boosted_trees"].to_numpy(), scores)


def test_the_readme_streaming_example_runs_as_written(tmp_path):
    import h5py

    rng = np.random.default_rng(3)
    (tmp_path / "shards").mkdir()
    for index in range(3):
        n = 400
        is_signal = rng.integers(0, 2, n)
        with h5py.File(tmp_path / "shards" / f"s{index}.h5", "w") as handle:
            handle["f0"] = rng.normal(is_signal * 1.5, 1.0)
            handle["f1"] = rng.normal(0, 1, n)
            handle["is_signal"] = is_signal
    config = yaml.safe_load(readme_block("shards/*.h5"))
    config["methods"] = [{"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 30}}]
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = yaml.safe_load(next((tmp_path / "runs").rglob("data.json")).read_text())
    assert record["feature_names"] == ["f0", "f1"] and sum(record["split"].values()) == 1200
