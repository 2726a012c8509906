"""A run none of whose methods can be exported says so in one line, after naming each and why."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.data.dataset import Dataset
from quanta.experiment import run_experiment
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_run_of_generators_only_exports_nothing_and_says_why(tmp_path):
    x = np.random.default_rng(0).exponential(size=(300, 4)).astype(np.float32)
    config = {"name": "gen", "task": "generation", "output": str(tmp_path), "data": {"source": "arrays"},
              "train": {"epochs": 1, "progress": False},
              "methods": [{"name": "baseline", "method": "independent_gaussians"},
                          {"name": "vae", "model": "vae", "params": {"latent": 2, "hidden": [8]}}]}
    run = run_experiment(config, data=Dataset({"x": x}, name="cells"), verbose=False)
    result = quanta_here("export", str(run.directory), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("quanta export: baseline not exported: method 'independent_gaussians' cannot")
    assert lines[1].startswith("quanta export: vae not exported: model 'vae' cannot be exported to ONNX")
    assert lines[-1] == (f"quanta: error: {run.directory}: none of its 2 methods can be exported to ONNX "
                         "(each is named above, with why)")
    assert not list(run.directory.glob("*/model.onnx"))
