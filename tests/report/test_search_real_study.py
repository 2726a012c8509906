"""The search's report of a real ``quanta tune`` study: what the tune engine writes is what the
report reads (a small decision-tree search on a built-in source)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from quanta.report.search_parameter_figures import slices_figure
from quanta.report.search_record import read_study
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT = {
    "name": "calib-report", "seed": 3, "task": "regression",
    "data": {"source": "energy_calibration", "size": 400},
    "methods": [{"name": "tree", "method": "decision_tree", "params": {"max_depth": 1}}],
    "search": {"sampler": "random", "trials": 4, "objective": "r2",
               "space": {"methods.tree.params.max_depth": {"int": [1, 6]},
                         "methods.tree.params.min_samples_leaf": {"int": [1, 40], "log": True},
                         "methods.tree.params.criterion": {"choice": ["squared_error",
                                                                      "absolute_error"]}}},
}


def test_the_report_of_a_real_study_names_its_best_trial_and_links_the_retrained_run(tmp_path):
    path = tmp_path / "calib.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    done = quanta_here("tune", str(path), "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "runs" / "calib-report-tune"
    record = json.loads((folder / "trials.json").read_text())
    (best,) = record["best"]
    page = (folder / "report.html").read_text()
    assert "<h1>calib-report</h1>" in page and f"Trial #{best}: the best r2" in page
    counts = re.search(r"<h2>Trials</h2>.*?<tbody><tr>(.*?)</tr>", page).group(1)
    assert re.findall(r">(\d+)<", counts) == ["4", "0", "0", "0", "4"]
    (run,) = (folder / "best" / "calib-report").iterdir()
    assert f'href="best/calib-report/{run.name}/report.html"' in page
    assert 'href="best.yaml"' in page
    study = read_study(folder)  # the space of search.json gives the axes
    assert study.is_log("methods.tree.params.min_samples_leaf")
    assert study.choices("methods.tree.params.criterion") == ["squared_error", "absolute_error"]
    axes = {ax.get_xlabel(): ax for ax in slices_figure(study).axes}
    assert axes["min_samples_leaf (log)"].get_xscale() == "log"
    figures = {p.name for p in (folder / "figures").iterdir()}
    assert {"optimisation_history.png", "parallel_coordinates.png", "slices.png"} <= figures
    # a decision tree has no epochs: the pruning curves are left out with a sentence
    assert "Not drawn: no trial reported a validation value per epoch" in page
    again = quanta_here("report", str(folder), cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == str(folder / "report.html")
