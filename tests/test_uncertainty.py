"""Uncertainty of every prediction (issue 12): a Gaussian head, Monte Carlo dropout, deep ensembles,
and ensembles (average, stacking) of a run's methods, through `quanta run` as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from quanta.rundir import RunDirectory
from tests.conftest import quanta_here
from tests.data.test_files import write

EXAMPLE = Path(__file__).parent.parent / "examples" / "uncertainty.yaml"


def run(tmp_path, config: dict, out: str = "runs") -> RunDirectory:
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", out, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (tmp_path / out).glob("*/*")
    return RunDirectory.open(path)


def test_gaussian_heads_mc_dropout_and_deep_ensembles_cover_the_calorimeter_resolution(tmp_path):
    """Intervals mu ± sigma hold about 68 % of the test energies, mu ± 2 sigma about 95 %
    (examples/uncertainty.yaml as shipped)."""
    (tmp_path / "e.yaml").write_text(EXAMPLE.read_text())
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (tmp_path / "runs").glob("*/*")
    run_dir = RunDirectory.open(path)
    printed = next(line for line in done.stdout.splitlines() if line.strip().startswith("bdt "))
    assert printed.split()[-3:] == ["-", "-", "-"]  # no coverage for a method without sigma
    test = {name: run_dir.method(name).read_metrics()[0]["test"]
            for name in ("gauss_1", "deep_ensemble", "mc_dropout", "bdt")}
    for name in ("gauss_1", "deep_ensemble"):
        assert 0.60 <= test[name]["coverage_68"] <= 0.80, (name, test[name])
        assert 0.90 <= test[name]["coverage_95"] <= 0.99, (name, test[name])
    assert test["mc_dropout"]["coverage_68"] >= 0.6  # dropout's spread on top of the head's: wider
    assert "coverage_68" not in test["bdt"]  # a method without an uncertainty gets no coverage
    assert test["deep_ensemble"]["rmse"] < 4.2 and test["deep_ensemble"]["r2"] > 0.97
    with np.load(run_dir.method("deep_ensemble").path / "predictions.npz") as saved:
        energy, sigma = saved["test_y"], saved["test_uncertainty"]
    low, high = energy < np.quantile(energy, 0.25), energy > np.quantile(energy, 0.75)
    assert np.median(sigma[high]) > 2 * np.median(sigma[low])  # it learned that resolution grows


def test_mc_dropout_is_reproducible_and_needs_dropout(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (600, 2)).astype(np.float32)
    path = write({"a": x[:, 0], "b": x[:, 1], "t": np.sin(2 * x[:, 0]) + 0.1 * x[:, 1]}, tmp_path / "d.parquet")
    data = {"source": "files", "paths": [path], "label": "t", "features": ["a", "b"]}
    config = {"name": "mc", "data": data, "task": "regression", "train": {"epochs": 3, "progress": False},
              "methods": [{"name": "plain", "model": "mlp", "train": {"mc_dropout": 5}}]}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "plain.train.mc_dropout: MLP has no dropout layer to keep on; give the model a dropout rate" \
        in done.stderr
    config["methods"][0]["params"] = {"dropout": 0.2}
    run_dir = run(tmp_path, config, out="fixed")
    folder = run_dir.method("plain").path
    with np.load(folder / "predictions.npz") as saved:
        assert (saved["test_uncertainty"] > 0).all()
    scored = []
    for out in ("one.parquet", "two.parquet"):  # the passes are seeded: the same scores twice
        done = quanta_here("predict", str(run_dir.path), str(path), "--out", out, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        scored.append(pq.read_table(tmp_path / out).to_pydict())
    assert set(scored[0]) == {"prediction_plain", "uncertainty_plain"}
    assert scored[0] == scored[1] and min(scored[0]["uncertainty_plain"]) > 0


def _jets_like(tmp_path, n: int = 3000):
    """Two features that separate a signal in different ways: a tree sees one, a line the other."""
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, n)
    ring = np.where(label == 1, rng.normal(2.0, 0.4, n), rng.normal(0, 0.8, n))  # |a, b| radius
    angle = rng.uniform(0, 2 * np.pi, n)
    shift = rng.normal(0.8 * label, 1.0, n)
    return write({"a": ring * np.cos(angle), "b": ring * np.sin(angle), "c": shift, "label": label},
                 tmp_path / "jets.parquet")


def test_averaging_and_stacking_combine_a_runs_methods(tmp_path):
    path = _jets_like(tmp_path)
    config = {"name": "ensembles", "seed": 1, "data": {"source": "files", "paths": [path], "label": "label"},
              "train": {"epochs": 15, "progress": False},
              "methods": [{"name": "lr", "method": "logistic_regression"},
                          {"name": "knn", "method": "knn", "params": {"n_neighbors": 25}},
                          {"name": "mlp", "model": "mlp", "params": {"hidden": [32]}},
                          {"name": "average", "method": "ensemble", "params": {"members": ["lr", "knn", "mlp"]}},
                          {"name": "stacked", "method": "ensemble",
                           "params": {"members": ["lr", "knn", "mlp"], "combine": "stacking"}}]}
    run_dir = run(tmp_path, config)
    auc = {name: run_dir.method(name).read_metrics()[0]["test"]["auc"]
           for name in ("lr", "knn", "mlp", "average", "stacked")}
    assert auc["stacked"] >= max(auc["lr"], auc["knn"]) - 0.005, auc
    assert auc["average"] > min(auc["lr"], auc["knn"], auc["mlp"]), auc
    saved = json.loads((run_dir.method("stacked").path / "ensemble.json").read_text())
    assert saved["members"] == ["lr", "knn", "mlp"] and len(saved["coef"][0]) == 3
    with np.load(run_dir.method("average").path / "predictions.npz") as arrays:
        assert "test_uncertainty" in arrays  # the members' spread
    done = quanta_here("predict", str(run_dir.path), path, "--out", "new.parquet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # new data scored through every member
    columns = pq.read_table(tmp_path / "new.parquet").column_names
    assert {"score_stacked", "score_average", "uncertainty_average"} <= set(columns)
    assert "uncertainty_stacked" not in columns


@pytest.mark.parametrize("members, message", [
    (["lr", "nope"], "methods[1].params.members: 'nope' is not an earlier entry of methods; allowed: lr"),
    (["lr"], "methods[1].params: members must be at least two names of earlier entries; received ['lr']"),
    (["lr", "lr"], "methods[1].params.members: a member is named twice"),
    (["lr", "both"], "methods[1].params.members: 'both' is the ensemble itself"),
])
def test_an_ensemble_names_earlier_entries(tmp_path, members, message):
    path = _jets_like(tmp_path, 200)
    config = {"name": "bad", "data": {"source": "files", "paths": [path], "label": "label"},
              "methods": [{"name": "lr", "method": "logistic_regression"},
                          {"name": "both", "method": "ensemble", "params": {"members": members}}]}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "runs").exists()  # refused before anything was trained
