"""An unsupervised task streams files that carry no labels."""

from __future__ import annotations

import numpy as np

from quanta.experiment import run_experiment


def test_a_generative_baseline_learns_from_streamed_files_without_labels(tmp_path):
    rng = np.random.default_rng(0)
    for shard in range(3):
        cells = (100 + 20 * rng.normal(size=(400, 4))).astype(np.float32)
        np.savez(tmp_path / f"cells_{shard}.npz", **{f"cell_{i}": cells[:, i] for i in range(4)})
    config = {"name": "streamed", "task": "generation", "output": str(tmp_path / "runs"),
              "data": {"source": "files", "paths": [str(tmp_path / "cells_*.npz")], "features": ["*"],
                       "streaming": "always", "chunk_rows": 100},
              "methods": [{"name": "baseline", "method": "independent_gaussians"}]}
    run = run_experiment(config, verbose=False)
    samples = run.results["baseline"].estimator.sample(4000, seed=1)
    assert np.all(np.abs(samples.mean(axis=0) - 100) < 2) and np.all(np.abs(samples.std(axis=0) - 20) < 2)
    assert "mean_score" in run.metrics["baseline"]["test"]
