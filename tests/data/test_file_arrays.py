"""Named per-row arrays from files (``arrays:``): a scan's measurement errors reach the method that
uses them (``gaussian_process``'s ``noise:``) without becoming inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from quanta.data.files import files
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def _scan_csv(path, n: int = 240, seed: int = 0):
    """A scan of sin(x) whose error grows from 0.03 to 0.63 across it, as columns x, y, dy."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 10.0, n)
    dy = 0.03 + 0.6 * (x / 10.0) ** 2
    y = np.sin(x) + rng.normal(0.0, dy)
    np.savetxt(path, np.stack([x, y, dy], 1), delimiter=",", header="x,y,dy", comments="")
    return path


def test_an_array_is_carried_but_is_not_a_feature(tmp_path):
    data = files(paths=[str(_scan_csv(tmp_path / "scan.csv"))], label="y", arrays={"sigma_y": "dy"})
    assert data.feature_names == ["x"]
    assert data["sigma_y"].dtype == np.float32 and data["sigma_y"].shape == (240,)
    assert np.all(data["sigma_y"] >= 0.03 - 1e-6)


def test_a_gaussian_process_takes_each_points_error_from_the_file(tmp_path):
    """Through ``quanta run``: with the file's errors the GP's test 68 % coverage is near 0.68
    (measured 0.72) and its Gaussian NLL lower than with one learned noise level (measured
    -0.59 against +0.12 per point on the 36 test points)."""
    path = _scan_csv(tmp_path / "scan.csv")
    data = {"source": "files", "paths": [str(path)], "label": "y", "arrays": {"sigma_y": "dy"}}
    methods = [{"name": "own_errors", "method": "gaussian_process",
                "params": {"noise": "sigma_y", "iterations": 100}},
               {"name": "one_level", "method": "gaussian_process", "params": {"iterations": 100}}]
    config = {"name": "scan", "task": "regression", "seed": 2, "data": data, "methods": methods}
    (tmp_path / "scan.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "scan.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = {m: json.loads(p.read_text())["test"]
               for m in ("own_errors", "one_level")
               for p in (tmp_path / "runs").glob(f"**/{m}/metrics.json")}
    assert 0.5 <= metrics["own_errors"]["coverage_68"] <= 0.85, metrics
    assert metrics["own_errors"]["gaussian_nll"] < metrics["one_level"]["gaussian_nll"] - 0.1, metrics


@pytest.mark.parametrize(("arrays", "message"), [
    ({"y": "dy"}, "files.arrays: 'y' cannot name an array"),
    ({"sigma_y": "dy +"}, "data.arrays.sigma_y"),
    ({"sigma_y": "ddy"}, "unknown column 'ddy'"),
])
def test_a_bad_array_is_one_line_naming_it(tmp_path, arrays, message):
    path = _scan_csv(tmp_path / "scan.csv", n=30)
    config = {"name": "scan", "task": "regression",
              "data": {"source": "files", "paths": [str(path)], "label": "y", "arrays": arrays},
              "methods": [{"name": "gp", "method": "gaussian_process"}]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "bad.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
