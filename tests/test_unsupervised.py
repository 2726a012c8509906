"""An unsupervised task runs end to end on data without labels: k-means clustering."""

from __future__ import annotations

import json

import numpy as np
import pytest

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.experiment import run_experiment
from tests.conftest import run_quanta


def blobs(n: int = 900, seed: int = 0, labelled: bool = False) -> Dataset:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 3]], dtype=np.float32)
    which = rng.integers(0, 3, n)
    x = (centres[which] + rng.normal(size=(n, 3))).astype(np.float32)
    return Dataset({"x": x, "y": which} if labelled else {"x": x}, name="blobs")


@quanta.data.register("blobs_test")
def blobs_source(size: int = 900, labelled: bool = False, seed: int = 1):
    """Three Gaussian blobs in 3D, with or without labels (test source)."""
    return blobs(size, seed, labelled)


def config(tmp_path, labelled: bool, methods=None):
    return {"name": "clusters", "task": "clustering", "output": str(tmp_path),
            "data": {"source": "blobs_test", "labelled": labelled},
            "methods": methods or [{"name": "km", "method": "kmeans", "params": {"clusters": 3}}]}


def test_kmeans_on_data_without_labels(tmp_path):
    run = run_experiment(config(tmp_path, labelled=False), verbose=False)
    test = run.metrics["km"]["test"]
    assert set(test) == {"inertia", "silhouette"}
    # standardised inputs: one cluster would have inertia 3 (three unit variances)
    assert test["silhouette"] > 0.6 and test["inertia"] < 0.75
    saved = np.load(run.directory / "km" / "predictions.npz")
    assert "test_score" in saved and "test_y" not in saved and saved["test_score"].shape[1] == 3
    assert run.report().exists()


def test_labels_when_present_only_evaluate_the_clusters(tmp_path):
    run = run_experiment(config(tmp_path, labelled=True), verbose=False)
    assert run.metrics["km"]["test"]["adjusted_rand"] > 0.95
    assert run.metrics["km"]["test"]["purity"] > 0.98
    stored = json.loads((run.directory / "metrics.json").read_text())
    assert stored["km"]["test"]["adjusted_rand"] == run.metrics["km"]["test"]["adjusted_rand"]


def test_a_network_for_clustering_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match=r"^task 'clustering' is learned by clustering methods \(kmeans\), not by networks$"):
        run_experiment(config(tmp_path, False, [{"name": "mlp", "model": "mlp"}]), verbose=False)


def test_supervised_task_without_labels_is_refused_through_the_cli(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: nolabels\ntask: binary\ndata: {source: files, paths: [x.npy], features: ['*']}\n"
        "methods:\n  - {name: bdt, method: boosted_trees}\n")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    result = run_quanta("run", "e.yaml", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
