"""The report's Input variables and Correlations sections, for every kind of input.

Runs are made as a user makes them (``run_experiment`` on an experiment dict: files with two
classes and weights, digit images, jet constituents, a regression); the sections are read from
``report.html`` as text and the numbers behind the figures from ``inputs.json``. The weighted
histograms are checked against a case built so that the weights change the distribution, and an
old run (no ``inputs.json``) still reports, without the sections.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from quanta.evaluate import input_summary
from quanta.evaluate.input_summary import summarise_inputs
from quanta.experiment import run_experiment
from quanta.report import write_report

pytestmark = pytest.mark.usefixtures("one_thread")

NO_RANKING = {"repeats": 0}


def _run(tmp_path: Path, name: str, task: str, data: dict, method: dict) -> Path:
    config = {
        "name": name,
        "task": task,
        "data": data,
        "methods": [{"name": "m", **method}],
        "importance": NO_RANKING,
    }
    run_experiment(config, out=tmp_path / "runs", verbose=False)
    (run_dir,) = (tmp_path / "runs" / name).iterdir()
    return run_dir


def _sections(run_dir: Path) -> tuple[str, dict]:
    """The visible text of the report from "Input variables" to "Environment", and inputs.json."""
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    part = page[page.index("<h2>Input variables</h2>") : page.index("<h2>Environment</h2>")]
    part = re.sub(r"<img[^>]*>", "[figure]", part)
    part = re.sub(r"</t[dh]>", " | ", re.sub(r"<tr[^>]*>", "\n", part))
    text = html.unescape(re.sub(r"<(?!/?h[23])[^>]+>", "", part))
    return text, json.loads((run_dir / "inputs.json").read_text())


def _headings(text: str) -> list[str]:
    return re.findall(r"<h[23]>([^<]*)</h[23]>", text)


def _mean(histogram: dict, group: int) -> float:
    edges = np.asarray(histogram["edges"])
    counts = np.asarray(histogram["counts"][group])
    return float(np.sum(counts * (edges[:-1] + edges[1:]) / 2) / counts.sum())


@pytest.fixture(scope="module")
def weighted_files(tmp_path_factory) -> Path:
    """A CSV of 2,000 events: ``a`` shifted by +1 in signal, ``d`` = 0.8 ``a`` + noise, weights."""
    folder = tmp_path_factory.mktemp("inputs_files")
    rng = np.random.default_rng(5)
    n = 2000
    label = rng.integers(0, 2, n)
    a = rng.normal(label, 1.0)
    columns = {
        "a": a,
        "b": rng.exponential(1.0 + label),
        "d": 0.8 * a + rng.normal(0, 0.6, n),
        "jets": rng.poisson(2 + 2 * label),
        "label": label,
        "w": np.where(label == 1, rng.uniform(0.1, 0.3, n), rng.uniform(1.0, 3.0, n)),
    }
    lines = [",".join(columns)] + [
        ",".join(f"{columns[k][i]:.6g}" for k in columns) for i in range(n)
    ]
    (folder / "events.csv").write_text("\n".join(lines) + "\n")
    return _run(
        folder,
        "weighted",
        "binary",
        {
            "source": "files",
            "paths": [str(folder / "events.csv")],
            "features": ["a", "b", "d", "jets"],
            "label": "label",
            "weight": "w",
        },
        {"method": "logistic_regression"},
    )


def test_tabular_inputs_per_class_with_correlations_and_weights(weighted_files):
    text, summary = _sections(weighted_files)
    assert _headings(text) == [
        "Input variables",
        "Input variables",
        "Event weights",
        "Correlations",
        "Linear correlation matrices",
    ]
    split = json.loads((weighted_files / "data.json").read_text())["split"]
    assert summary["rows"] == summary["rows_used"] == split["train"]
    assert (
        f"all {split['train']:,} rows, weighted by the per-event weights, per class (0, 1)" in text
    )
    assert "signal filled, background hatched" in text
    histograms = {h["name"]: h for h in summary["features"]["histograms"]}
    assert list(histograms) == ["a", "b", "d", "jets"]
    for h in histograms.values():  # each class normalised to one, under- and overflow included
        for g in (0, 1):
            assert sum(h["counts"][g]) + h["underflow"][g] + h["overflow"][g] == pytest.approx(
                1, abs=1e-3
            )
    assert _mean(histograms["a"], 1) - _mean(histograms["a"], 0) == pytest.approx(1.0, abs=0.15)
    assert histograms["jets"]["integer"] and np.allclose(np.diff(histograms["jets"]["edges"]), 1.0)
    names = summary["correlation"]["names"]
    for matrix in summary["correlation"]["matrices"]:  # 0.8 / sqrt(0.8^2 + 0.6^2) = 0.8
        assert matrix[names.index("a")][names.index("d")] == pytest.approx(0.8, abs=0.05)
        assert abs(matrix[names.index("a")][names.index("b")]) < 0.1
    stats = summary["weights"]["stats"]
    train_weight = sum(s["sum"] for s in stats)
    assert stats[0]["min"] >= 1.0 and stats[1]["max"] <= 0.3 and stats[1]["mean"] < stats[0]["mean"]
    assert f"{stats[0]['events']:,} | {stats[0]['sum']:.4g} |" in text and train_weight > 0
    assert "[figure]" in text and "Not drawn" not in text


def test_weighted_histograms_differ_from_unweighted_as_the_weights_say():
    """Events with x > 0 weigh 3, the others 1: the weighted fraction above 0 is 3/4, not 1/2."""
    rng = np.random.default_rng(0)
    x = rng.choice([-2.0, -1.0, 1.0, 2.0], (20_000, 1))  # integer values: one bin each
    y = rng.integers(0, 2, 20_000)
    weight = np.where(x[:, 0] > 0, 3.0, 1.0)
    plain = summarise_inputs(x, y, None, classes=["b", "s"])
    weighted = summarise_inputs(x, y, weight, classes=["b", "s"])
    assert not plain["weighted"] and "weights" not in plain and weighted["weighted"]
    for summary, expected in ((plain, 0.5), (weighted, 0.75)):
        (histogram,) = summary["features"]["histograms"]
        edges = np.asarray(histogram["edges"])
        for g in (0, 1):
            assert (
                histogram["integer"] and histogram["underflow"][g] == histogram["overflow"][g] == 0
            )
            above = np.sum(np.asarray(histogram["counts"][g])[edges[:-1] > 0])
            assert above == pytest.approx(expected, abs=0.02)
    assert weighted["groups"][0]["weight_sum"] == pytest.approx(weight[y == 0].sum(), rel=1e-4)
    counts = np.asarray(
        weighted["weights"]["counts"]
    )  # the weight distribution: events counted once
    assert counts.sum(axis=1) + np.asarray(weighted["weights"]["underflow"]) + np.asarray(
        weighted["weights"]["overflow"]
    ) == pytest.approx([1.0, 1.0])


def test_a_large_part_is_summarised_from_a_seeded_subset_of_the_first_features(monkeypatch):
    monkeypatch.setattr(input_summary, "ROW_LIMIT", 2_000)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2_500, 70)).astype(np.float32)
    y = rng.integers(0, 2, 2_500)
    summary = summarise_inputs(x, y, classes=["b", "s"], seed=3)
    assert summary["rows"] == 2_500 and summary["rows_used"] == 2_000
    assert summary["features"]["total"] == 70 and summary["features"]["shown"] == 64
    assert (
        len(summary["features"]["histograms"]) == len(summary["correlation"]["matrices"][0]) == 64
    )
    assert sum(g["rows"] for g in summary["groups"]) == 2_000
    assert summarise_inputs(x, y, classes=["b", "s"], seed=3) == summary  # the subset is seeded


def test_images_show_the_mean_image_per_class(tmp_path):
    run_dir = _run(
        tmp_path,
        "digits",
        "multiclass",
        {"source": "digits", "size": 300, "view": "image"},
        {"method": "decision_tree"},
    )
    text, summary = _sections(run_dir)
    assert _headings(text) == ["Input variables", "Mean image per class"]
    assert "The mean image of each class (inputs 1 × 8 × 8)" in text
    assert "No event weights" in text
    images = summary["images"]
    means = np.asarray(images["mean"], dtype=float)
    assert means.shape == (10, 1, 8, 8) and images["factor"] == 1
    assert means[0, 0, 3:5, 3:5].mean() < means[1, 0, 3:5, 3:5].mean()  # a 0 is hollow, a 1 is not
    assert [g["name"] for g in summary["groups"]] == [str(d) for d in range(10)]


def test_sets_show_multiplicity_and_per_element_features(tmp_path):
    run_dir = _run(
        tmp_path,
        "constituents",
        "binary",
        {"source": "jets", "size": 120, "view": "constituents", "n_constituents": 30},
        {"model": "deepsets", "train": {"epochs": 1, "progress": False}},
    )
    text, summary = _sections(run_dir)
    assert _headings(text) == [
        "Input variables",
        "Multiplicity",
        "Per-element features",
        "Correlations",
        "Linear correlation matrices",
    ]
    multiplicity = summary["multiplicity"]
    assert multiplicity["edges"][0] == -0.5 and multiplicity["edges"][-1] == 30.5
    top, qcd = (
        multiplicity["mean"][[g["name"] for g in summary["groups"]].index(k)]
        for k in ("top", "qcd")
    )
    assert top > qcd  # top jets have more constituents
    assert f"over the {summary['elements']:,} valid elements" in text
    assert summary["elements"] == pytest.approx(
        sum(multiplicity["mean"][g] * summary["groups"][g]["rows"] for g in (0, 1)), rel=1e-3
    )
    assert "delta_r" in summary["correlation"]["names"]


def test_regression_shows_each_inputs_correlation_with_the_target(tmp_path):
    run_dir = _run(
        tmp_path,
        "energy",
        "regression",
        {"source": "energy_calibration", "size": 600},
        {"method": "decision_tree"},
    )
    text, summary = _sections(run_dir)
    assert _headings(text) == [
        "Input variables",
        "Input variables",
        "Regression target",
        "Correlations",
        "Linear correlation matrices",
        "Correlation with the target",
    ]
    assert summary["grouping"] == "regression" and [g["name"] for g in summary["groups"]] == ["all"]
    record = summary["target_correlation"]
    assert record["names"] == ["e_raw", "eta"] and record["targets"] == ["target"]
    e_raw, eta = record["values"][0]
    assert e_raw > 0.9 and abs(eta) < 0.2  # the raw energy measures the true one
    assert f"e_raw | {e_raw:.4g} |" in text


def test_an_old_run_without_inputs_json_still_reports(weighted_files, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(weighted_files, old)
    (old / "inputs.json").unlink()
    (old / "report.html").unlink()
    page = write_report(old).read_text(encoding="utf-8")
    assert "<h2>Data</h2>" in page and "<h2>Metrics</h2>" in page
    assert "Input variables" not in page and "Correlations" not in page


def test_a_stream_is_summarised_from_chunks_spread_over_its_files(tmp_path, monkeypatch):
    """Files sorted by class, read in chunks: the rows summarised come from both classes' files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from quanta.config import resolve
    from quanta.evaluate.input_summary import summarise_part
    from quanta.experiment import prepare

    for name, shift in (("background", 0.0), ("signal", 2.0)):
        for index in range(3):
            rng = np.random.default_rng([index, int(shift)])
            pq.write_table(
                pa.table({f"f{k}": rng.normal(shift, 1.0, 1000) for k in range(3)}),
                tmp_path / f"{name}{index}.parquet",
            )
    classes = {name: str(tmp_path / f"{name}*.parquet") for name in ("background", "signal")}
    config = resolve(
        {
            "name": "streamed",
            "task": "binary",
            "methods": [{"name": "m", "method": "sgd"}],
            "data": {
                "source": "files",
                "classes": classes,
                "features": ["f*"],
                "streaming": "always",
            },
        }
    )
    prepared = prepare(config)
    train = prepared.parts["train"]
    assert train.streamed and len(train.chunks) == 6
    monkeypatch.setattr(input_summary, "ROW_LIMIT", 1_000)
    summary = summarise_part(
        train,
        prepared.dataset.feature_names,
        prepared.dataset.classes,
        prepared.task.evaluation.output,
    )
    assert summary["rows"] == len(train) and summary["rows_used"] == 1_000
    assert [g["name"] for g in summary["groups"]] == ["background", "signal"]
    assert min(g["rows"] for g in summary["groups"]) > 300  # not the first file's class only
    (f0, *_) = summary["features"]["histograms"]
    assert _mean(f0, 1) - _mean(f0, 0) == pytest.approx(2.0, abs=0.2)
