"""Numbers a reader can trust, and a Data section that shows what every method read.

Run as a user runs quanta: ``quanta run`` on an experiment file over the
user's own ROOT file (in a subprocess), ``quanta.fit`` and ``quanta.load_run``;
then read ``metrics.json`` with a strict JSON reader and the report as text.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

import quanta as qt
from quanta.evaluate.binary import rejection_at
from quanta.report import write_report
from tests.conftest import quanta_here, run_quanta

EXPERIMENT = """\
name: numbers
task: binary
data:
  source: files
  paths: [{path}]
  tree: events
  features: [clean, log_pt]
  derived: {{log_pt: log(pt)}}
  selection: pt > 20
  label: is_signal
  weight: w
methods:
  - {{name: perfect, method: logistic_regression}}
  - {{name: noisy, method: logistic_regression, data: {{features: [noisy]}}}}
  - name: sets
    model: deepsets
    data: {{features: [], collection: [part_pt, part_eta], pad_length: 6, sort_by: part_pt}}
    train: {{epochs: 1, progress: false}}
"""


def _write_events(path: Path, n: int = 1200, seed: int = 0) -> None:
    """A ROOT tree: ``clean`` separates the classes perfectly, ``noisy`` only partly."""
    import awkward as ak
    import uproot

    rng = np.random.default_rng(seed)
    signal = rng.integers(0, 2, n)
    counts = rng.integers(1, 9, n)
    columns = {
        "clean": np.where(signal == 1, 2.0, -2.0) + rng.uniform(-1, 1, n),
        "noisy": signal + rng.normal(0.0, 1.0, n),
        "pt": rng.uniform(10.0, 100.0, n),
        "is_signal": signal.astype(np.int64),
        "w": rng.uniform(0.5, 1.5, n),
        "part": ak.zip({"pt": ak.unflatten(rng.exponential(20.0, counts.sum()), counts),
                        "eta": ak.unflatten(rng.normal(0.0, 1.0, counts.sum()), counts)}),
    }
    types = {k: v.dtype for k, v in columns.items() if k != "part"}
    types["part"] = "var * {pt: float64, eta: float64}"
    with uproot.recreate(path) as handle:
        handle.mktree("events", types).extend(columns)


def _strict_json(path: Path):
    """What jq or JavaScript's JSON.parse accept: no Infinity, -Infinity or NaN."""
    def refuse(constant):
        raise AssertionError(f"{path}: {constant} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _text(page: str, start: str, stop: str) -> str:
    """The visible text of the page between two headings: cells end in ' | ', rows in newlines."""
    part = page[page.index(start):page.index(stop)]
    part = re.sub(r"<tr[^>]*>", "\n", part)
    part = re.sub(r"</t[dh]>", " | ", part)
    return html.unescape(re.sub(r"<[^>]+>", "", part))


@pytest.fixture(scope="module")
def files_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("numbers")
    _write_events(folder / "events.root")
    (folder / "numbers.yaml").write_text(EXPERIMENT.format(path=folder / "events.root"))
    done = run_quanta("run", "numbers.yaml", "--out", "runs", cwd=folder)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (folder / "runs" / "numbers").iterdir()
    return run_dir


def test_metrics_json_is_strict_json_with_a_lower_limit_and_errors(files_run):
    metrics = _strict_json(files_run / "metrics.json")
    for method in ("perfect", "noisy", "sets"):
        assert _strict_json(files_run / method / "metrics.json")["test"] == metrics[method]["test"]
    with np.load(files_run / "perfect" / "predictions.npz") as saved:
        y, score, weight = saved["test_y"], saved["test_score"], saved["test_weight"]
    background = int(np.sum(y == 0))
    perfect = metrics["perfect"]["test"]
    assert perfect["rejection_at_0.3_lower_limit"] is True  # no background passes: 1/eps_B > N
    assert perfect["rejection_at_0.3"] == background and perfect["rejection_at_0.3_error"] == 0
    noisy = metrics["noisy"]["test"]
    assert noisy["rejection_at_0.5_lower_limit"] is False
    assert 1.0 < noisy["rejection_at_0.5"] < background and noisy["rejection_at_0.5_error"] > 0
    with np.load(files_run / "noisy" / "predictions.npz") as saved:
        expected = rejection_at(saved["test_y"], saved["test_score"], 0.5, saved["test_weight"])
    stored = (noisy["rejection_at_0.5"], noisy["rejection_at_0.5_error"])
    assert stored == pytest.approx(expected[:2])
    assert len(score) == len(weight) == len(y) and perfect["auc"] == 1.0


def test_report_shows_value_plus_minus_error_and_the_lower_limit(files_run):
    metrics = _strict_json(files_run / "metrics.json")
    page = (files_run / "report.html").read_text(encoding="utf-8")
    table = _text(page, "<h2>Metrics</h2>", "<h2>Figures</h2>")
    assert "inf" not in table and "∞" not in table
    background = round(metrics["perfect"]["test"]["rejection_at_0.3"])
    test_rows = table.split("\ntrain")[0].split("\nvalid")[0]
    perfect_row = next(line for line in test_rows.splitlines() if line.startswith("perfect |"))
    limit = f"> {background} (no background passes among {background})"
    assert perfect_row.count(limit) == 2, perfect_row  # both working points
    noisy_row = next(line for line in test_rows.splitlines() if line.startswith("noisy |"))
    assert re.search(r"\| \d[\d,.]* ± \d[\d,.]* \|", noisy_row), noisy_row
    assert "_error" not in table and "lower limit" in table  # companions: in their metric's cell
    # the lower limit ranks best: it is bold in its column
    cell = re.search(r'<td class="method">perfect</td>(.*?)</tr>', page).group(1)
    assert re.findall(r'<td class="num best">&gt; ', cell), cell


def test_report_data_section_shows_every_method_and_the_events(files_run):
    page = (files_run / "report.html").read_text(encoding="utf-8")
    data = _text(page, "<h2>Data</h2>", "<h2>Environment</h2>")
    assert "selection | pt > 20 |" in data
    assert "derived variables | log_pt = log(pt) |" in data
    assert "targets | label is_signal |" in data
    assert "weights | weight w |" in data
    assert ("metrics weighted | yes: metrics and figures use the per-event weights (the "
            "Kolmogorov-Smirnov tests with the effective numbers of events); a figure that draws "
            "single events without their weights says so in its caption |") in data
    assert "read | 1 root file (tree events), in memory |" in data
    assert "perfect | method logistic_regression | features clean, log_pt | 2 |" in data
    assert "noisy | method logistic_regression | features noisy | 1 |" in data
    assert ("sets | model deepsets | collection part_pt, part_eta per element, padded to 6 "
            "elements, sorted by part_pt (descending) | 6 × 2, with a mask |") in data


def test_fit_and_load_run_without_weights(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)  # a perfect cut exists
    run = qt.fit("logistic_regression", (x, y), out=tmp_path / "runs")
    test = run.metrics["test"]
    with np.load(run.directory / "logistic_regression" / "predictions.npz") as saved:
        background = int(np.sum(saved["test_y"] == 0))
    assert test["rejection_at_0.5_lower_limit"] is True and test["rejection_at_0.5"] == background
    reopened = qt.load_run(run.directory)
    assert reopened.metrics["test"] == test
    _strict_json(run.directory / "metrics.json")
    page = run.report().read_text(encoding="utf-8")
    assert f"&gt; {background} (no background passes among {background})" in page
    data = _text(page, "<h2>Data</h2>", "<h2>Environment</h2>")
    assert "metrics weighted | no: every event counts once |" in data
    assert ("logistic_regression | method logistic_regression | x of the data set, as given "
            "| 2 |") in data


def test_format_measurement():
    from quanta.report.html import format_measurement

    assert format_measurement(410.3, 35.2) == "410 ± 35"
    assert format_measurement(6.6667, 0.50185) == "6.67 ± 0.50"
    assert format_measurement(10.0, 0.9487) == "10.00 ± 0.95"
    assert format_measurement(12345.6, 1234.5) == "12,346 ± 1,234"
    limit = format_measurement(2500.0, 0.0, lower_limit=True)
    assert limit == "> 2,500 (no background passes among 2,500)"
    assert format_measurement(0.97123) == "0.9712"


def test_a_run_from_an_older_quanta_with_infinity_still_reports(tmp_path):
    from tests.report.test_html import write_fake_run

    run_dir = write_fake_run(tmp_path / "run", n=300)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in metrics["bdt"].values():
        if "rejection_at_0.3" in split:
            split["rejection_at_0.3"] = float("inf")
            del split["rejection_at_0.3_error"], split["rejection_at_0.3_lower_limit"]
    (run_dir / "metrics.json").write_text(json.dumps(metrics))  # Python writes Infinity, as before
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "∞" in page and "∞ (a run written by an older quanta)" in page


def test_data_section_for_classes_from_files_and_reweighting(tmp_path):
    rng = np.random.default_rng(2)
    for name, shift in (("background", 0.0), ("signal", 1.0)):
        np.savez(tmp_path / f"{name}.npz", pt=rng.exponential(50.0, 300) + 50 * shift,
                 eta=rng.normal(shift, 1.0, 300))
    (tmp_path / "classes.yaml").write_text(
        "name: classes\ntask: binary\n"
        f"data: {{source: files, classes: {{background: {tmp_path}/background.npz, "
        f"signal: {tmp_path}/signal.npz}}, features: [eta], reweight: pt}}\n"
        "methods: [{name: linear, method: logistic_regression}]\n")
    done = quanta_here("run", "classes.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs" / "classes").iterdir()
    data = _text((run_dir / "report.html").read_text(encoding="utf-8"), "<h2>Data</h2>",
                 "<h2>Environment</h2>")
    assert (f"targets | the class of each file: background = {tmp_path}/background.npz; "
            f"signal = {tmp_path}/signal.npz |") in data
    assert "selection | none: every row is kept |" in data
    assert "derived variables | none |" in data
    assert "weights | reweighted in pt to flat (20 bins), class totals kept |" in data
    assert "metrics weighted | yes: metrics and figures use the per-event weights" in data
    assert "linear | method logistic_regression | features eta | 1 |" in data


def test_data_section_shows_each_view_of_a_simulated_source(tmp_path):
    (tmp_path / "views.yaml").write_text(
        "name: views\ntask: binary\n"
        "data: {source: jets, view: features, size: 200, progress: false}\n"
        "methods:\n"
        "  - {name: bdt, method: boosted_trees, params: {n_estimators: 5}}\n"
        "  - {name: image, model: mlp, data: {view: image, image_pixels: 8}, params: {hidden: [8]},"
        " train: {epochs: 1, progress: false}}\n")
    done = quanta_here("run", "views.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs" / "views").iterdir()
    data = _text((run_dir / "report.html").read_text(encoding="utf-8"), "<h2>Data</h2>",
                 "<h2>Environment</h2>")
    assert "bdt | method boosted_trees | view features; features jet_pt, jet_eta, jet_mass" in data
    assert "… (14) | 14 |" not in data and "d2 | 14 |" in data  # every one of the 14 names
    assert "image | model mlp | view image; image_pixels: 8 |" in data
    assert "metrics weighted | no: every event counts once |" in data
