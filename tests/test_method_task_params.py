"""A method entry's own ``task_params`` change the task's parameters for that method only."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.data.dataset import from_arrays
from quanta.experiment import run_experiment
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def line(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=n)).astype(np.float32)
    return from_arrays(x, y, name="line")


def test_one_method_learns_a_gaussian_likelihood_beside_a_plain_one(tmp_path):
    config = {"name": "likelihoods", "task": "regression", "output": str(tmp_path), "data": {"source": "arrays"},
              "train": {"epochs": 3, "progress": False},
              "methods": [{"name": "plain", "model": "mlp", "params": {"hidden": [16]}},
                          {"name": "gauss", "model": "mlp", "params": {"hidden": [16]},
                           "task_params": {"likelihood": "gaussian"}}]}
    run = run_experiment(config, data=line(), verbose=False)
    assert run.results["gauss"].estimator.task.likelihood == "gaussian"
    assert run.results["plain"].estimator.task.likelihood == "none"
    assert "coverage_68" in run.metrics["gauss"]["test"] and "coverage_68" not in run.metrics["plain"]["test"]


def test_a_bad_method_task_parameter_is_a_one_line_error(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: bad\ntask: regression\ndata: {source: energy_calibration, size: 200}\n"
        "methods:\n  - {name: m, model: mlp, task_params: {likelihood: poisson}}\n")
    result = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == ("quanta: error: methods[0].task_params.likelihood: input "
                                                      "should be 'none' or 'gaussian', received 'poisson'")
    assert "Traceback" not in result.stderr
