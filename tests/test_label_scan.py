"""``quanta label-scan``: one run per fraction of kept labels, the metric against the number of labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.label_scan import parse_fractions
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT = """name: moons
task: semi_supervised
task_params: {ramp_steps: 20}
data: {source: files, paths: [moons.npz], label: y}
train: {epochs: 3, batch_size: 128, lr: 0.01, progress: false}
methods:
  - {name: labelled_only, model: mlp, params: {hidden: [16]}, task_params: {unlabelled_weight: 0}}
  - {name: bdt, method: boosted_trees, params: {n_estimators: 10}}
"""


@pytest.fixture
def folder(tmp_path):
    from sklearn.datasets import make_moons

    x, y = make_moons(1000, noise=0.1, random_state=0)
    np.savez(tmp_path / "moons.npz", x=x.astype(np.float32), y=y.astype(np.int64))
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    return tmp_path


def test_a_scan_writes_one_run_per_fraction_and_the_metric_against_the_labels(folder):
    result = quanta_here("label-scan", "e.yaml", "--labelled", "0.2,0.02", "--out", "runs", "--repeat", "2",
                         cwd=folder)
    assert result.returncode == 0, result.stderr
    scan = folder / "runs" / "moons-labels"
    assert result.stdout.strip().splitlines()[-1] == "runs/moons-labels/label_scan.html"
    record = json.loads((scan / "label_scan.json").read_text())
    assert record["metric"] == "auc" and record["fractions"] == [0.02, 0.2]
    assert record["baselines"] == ["labelled_only"] and set(record["methods"]) == {"labelled_only", "bdt"}
    few, many = record["methods"]["bdt"]
    # 700 training samples, about half of each class: 2 % and 20 % of each class keep their labels
    assert few["labelled"] == 14 and many["labelled"] == 140
    assert len(many["values"]) == 2 and many["std"] is not None and many["mean"] > 0.9
    assert (scan / "0.02" / "report.html").is_file() and (scan / "0.2" / "repeats.json").is_file()
    assert (scan / "label_scan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "label_scan.json" in (scan / "label_scan.html").read_text()
    again = quanta_here("label-scan", "e.yaml", "--labelled", "0.2,0.02", "--out", "runs", "--repeat", "2",
                        cwd=folder)  # finished runs are kept, not retrained
    assert again.returncode == 0 and json.loads((scan / "label_scan.json").read_text()) == record


@pytest.mark.parametrize(("labelled", "message"), [
    ("0,0.5", "--labelled: '0' is not a fraction in (0, 1]; give the fractions of the train split whose "
              "labels are kept, e.g. 0.005,0.01,0.05,0.2"),
    ("0.1,half", "--labelled: 'half' is not a fraction in (0, 1]; give the fractions of the train split "
                 "whose labels are kept, e.g. 0.005,0.01,0.05,0.2"),
    ("0.1,0.1", "--labelled: 0.1,0.1 names a fraction twice; give each once"),
])
def test_bad_fractions_are_one_line_errors(folder, labelled, message):
    result = quanta_here("label-scan", "e.yaml", "--labelled", labelled, "--out", "runs", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"quanta: error: {message}"]
    assert not (folder / "runs").exists()


def test_a_task_that_keeps_every_label_is_refused(folder):
    (folder / "b.yaml").write_text(EXPERIMENT.replace("task: semi_supervised\ntask_params: {ramp_steps: 20}",
                                                      "task: binary").replace(
        ", task_params: {unlabelled_weight: 0}", ""))
    result = quanta_here("label-scan", "b.yaml", "--labelled", "0.1", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "quanta: error: b.yaml: task 'binary' keeps every label (it has no parameter labelled); a label "
        "scan needs task semi_supervised"]


def test_fractions_are_read_sorted():
    assert parse_fractions("0.2, 0.005,1") == [0.005, 0.2, 1.0]
