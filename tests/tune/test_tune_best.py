"""The best configuration: best.yaml runs with `quanta run`, its retraining scores the test split
once, and the same command again keeps the finished study and the retrained run."""

from __future__ import annotations

import json

import pytest
import yaml

import quanta
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT = {
    "name": "calib", "seed": 2, "task": "regression",
    "data": {"source": "energy_calibration", "size": 500},
    "methods": [{"name": "tree", "method": "decision_tree", "params": {"max_depth": 1}}],
    "search": {"sampler": "tpe", "trials": 4, "objective": "r2",
               "space": {"methods.tree.params.max_depth": {"int": [1, 8]}}},
}


def test_best_configuration_is_retrained_once_and_runs_with_quanta_run(tmp_path):
    path = tmp_path / "calib.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    done = quanta_here("tune", str(path), "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "runs" / "calib-tune"
    lines = [line for line in done.stdout.splitlines() if line.startswith("trial ")]
    assert len(lines) == 4 and all("COMPLETE r2 " in line and "max_depth=" in line for line in lines)
    record = json.loads((folder / "trials.json").read_text())
    assert record["objectives"] == [{"metric": "r2", "direction": "maximize"}]
    (best,) = record["best"]
    trial = record["trials"][best]
    search = json.loads((folder / "search.json").read_text())
    assert search["study"] == "calib" and search["search"]["trials"] == 4
    written = yaml.safe_load((folder / "best.yaml").read_text())
    assert "search" not in written
    assert written["methods"][0]["params"]["max_depth"] == trial["params"]["methods.tree.params.max_depth"]
    (run,) = (folder / "best" / "calib").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())["tree"]
    assert "r2" in metrics["test"]
    assert metrics["valid"]["r2"] == pytest.approx(trial["values"][0], abs=1e-12)  # the same fit
    assert (folder / "report.html").exists() or "report:" not in done.stdout

    again = quanta.tune(path, out=tmp_path / "runs")  # the finished study: nothing trained again
    assert [t["number"] for t in again.trials] == [0, 1, 2, 3]
    assert again.best_run == run and again.test_metrics["tree"]["r2"] == metrics["test"]["r2"]

    rerun = quanta_here("run", str(folder / "best.yaml"), "--out", "rerun", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    (other,) = (tmp_path / "rerun" / "calib").iterdir()
    assert json.loads((other / "metrics.json").read_text())["tree"]["test"]["r2"] == \
        pytest.approx(metrics["test"]["r2"])
