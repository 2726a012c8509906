"""A run on data without labels gets a report with the figures that need none."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.data.dataset import Dataset
from quanta.experiment import run_experiment

pytestmark = pytest.mark.usefixtures("one_thread")


def plane(n: int = 600) -> Dataset:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)
    return Dataset({"x": x + 0.05 * rng.normal(size=x.shape).astype(np.float32)}, name="plane")


@pytest.mark.parametrize(("task", "entry", "figure"), [
    ("autoencoding", {"name": "ae", "model": "autoencoder", "params": {"code": 2, "hidden": [16]}},
     "Training history"),
    ("embedding", {"name": "pca", "method": "pca", "params": {"components": 2}}, "Embedding"),
])
def test_an_unlabelled_run_reports_its_figures(tmp_path, task, entry, figure):
    config = {"name": "nolabels", "task": task, "output": str(tmp_path), "data": {"source": "arrays"},
              "train": {"epochs": 2, "progress": False}, "methods": [entry]}
    run = run_experiment(config, data=plane(), verbose=False)
    saved = np.load(run.directory / entry["name"] / "predictions.npz")
    assert "test_score" in saved and "test_y" not in saved
    html = run.report().read_text()
    assert "No predictions.npz" not in html
    assert figure in html
