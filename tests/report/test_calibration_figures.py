"""The report's calibration figures: the reliability diagram of classifiers (top-label for several
classes) and the coverage of the uncertainties a regression predicts, with their table columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.evaluate.calibration_figures import coverage_figure, reliability_figure
from quanta.evaluate.regression import uncertainty_metrics
from quanta.report import read_run, write_report
from tests.report.test_html import _SEPARATION, write_fake_run


def _block(page: str, title: str) -> str:
    """The HTML of the figure block titled ``title`` (up to the next block)."""
    start = page.index(f"<h3>{title}")
    following = page.find("<h3>", start + 4)
    return page[start:following if following > 0 else len(page)]


def _with_uncertainty(run_dir: Path, method: str, scale: float) -> None:
    """Give ``method`` of a fake regression run a per-sample sigma, ``scale`` times the honest
    one (the fake residuals are Gaussian of width 0.25 y / separation), and its metrics."""
    path = run_dir / method / "predictions.npz"
    with np.load(path) as stored:
        arrays = dict(stored)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for split in ("train", "valid", "test"):
        y, score = arrays[f"{split}_y"], arrays[f"{split}_score"]
        sigma = scale * 0.25 / _SEPARATION[method] * y + 1e-3
        arrays[f"{split}_uncertainty"] = sigma
        metrics[method][split].update(uncertainty_metrics(y, score, sigma, arrays.get(f"{split}_weight")))
    np.savez(path, **arrays)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classifier_reports_show_the_reliability_diagram_and_ece(tmp_path, task):
    run_dir = write_fake_run(tmp_path / "run", task=task, n=400, weights=True, networks=())
    page = write_report(run_dir).read_text(encoding="utf-8")
    block = _block(page, "Reliability diagram (test split)")
    assert '<img width="' in block and "Not drawn" not in block
    assert '<th class="num" title="ece">ECE</th>' in page
    assert "ECE = " not in page  # the legend is inside the image, not text


def test_regression_report_shows_coverage_of_the_methods_with_uncertainties(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", task="regression", n=800)
    _with_uncertainty(run_dir, "mlp", scale=1.0)
    _with_uncertainty(run_dir, "bdt", scale=0.5)  # overconfident: coverage and NLL worse
    run = read_run(run_dir)
    test = {m.name: m.predictions["test"] for m in run.methods}
    assert test["mlp"].uncertainty.shape == test["mlp"].score.shape
    page = write_report(run_dir).read_text(encoding="utf-8")
    block = _block(page, "Coverage of the predicted uncertainties (test split)")
    assert '<img width="' in block and "Not drawn" not in block
    for label in ("Coverage 68 %", "Coverage 95 %", "Gaussian NLL"):
        assert f">{label}</th>" in page
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["mlp"]["test"]["coverage_68"] > metrics["bdt"]["test"]["coverage_68"]
    table = page[page.index('<table class="metrics">'):page.index("</table>")]
    test_rows = table[table.index(">test"):table.index(">valid")]  # "test — N events ..."
    for method in ("mlp", "bdt"):
        cells = _cell_classes(table, test_rows, method)
        assert cells["coverage_68"] == cells["coverage_95"] == "num"  # no better direction
    assert _cell_classes(table, test_rows, "mlp")["gaussian_nll"] == "num best"  # honest sigma
    assert _cell_classes(table, test_rows, "bdt")["gaussian_nll"] == "num"


def _cell_classes(table: str, rows: str, method: str) -> dict[str, str]:
    """``{metric key: the CSS class of its cell}`` in ``method``'s row of ``rows``."""
    head = re.findall(r'<th class="num" title="([^"]+)">', table)
    row = re.search(rf'<tr><td class="method">{method}</td>(.*?)</tr>', rows).group(1)
    return dict(zip(head, re.findall(r'<td class="(num(?: best)?)">', row), strict=True))

def test_without_uncertainties_the_coverage_block_is_left_out(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", task="regression", n=400)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Coverage" not in page and "Not drawn" not in page
    assert all(p.uncertainty is None for m in read_run(run_dir).methods for p in m.predictions.values())


def test_an_uncertainty_of_another_shape_is_refused_naming_the_file(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", task="regression", n=400)
    path = run_dir / "mlp" / "predictions.npz"
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["test_uncertainty"] = np.ones(3)
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=r"mlp/predictions.npz: test_uncertainty has shape \(3,\) but "
                                        r"test_score has \(100,\)"):
        read_run(run_dir)


def test_figures_name_the_method_whose_scores_do_not_fit():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    fig = reliability_figure({"calibrated": (y, p), "weighted": (y, p, rng.random(200))})
    assert len(fig.axes) == 2  # the diagram and the share of events per bin
    with pytest.raises(UserError, match="reliability diagram of bdt: score: a reliability curve"):
        reliability_figure({"bdt": (y, 3 * p)})
    scores = rng.dirichlet([1, 1, 1], 200)
    with pytest.raises(UserError, match="mix signal probabilities and class probabilities"):
        reliability_figure({"a": (y, p), "b": (y, scores)})
    sigma = np.ones(200)
    assert len(coverage_figure({"gauss": (p, p + rng.normal(size=200), sigma)}).axes) == 1
    with pytest.raises(UserError, match="coverage figure of gauss: uncertainty: standard deviations"):
        coverage_figure({"gauss": (p, p, 0 * sigma)})
