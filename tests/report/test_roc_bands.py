"""Uncertainties on the ROC figure, in the report's metrics table and in the printed table.

The ROC rejection curve carries a ±1σ band (binomial on the background
efficiency); the report quotes ``auc ± error``, marks a rejection that rests on
fewer than 20 surviving background events with a footnote naming the count, and
states the size of every split; ``quanta.fit(verbose=True)`` marks it too.
"""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pytest

import quanta as qt
from quanta.evaluate.binary import roc_curve
from quanta.evaluate.figures import rejection_band, roc_figure
from quanta.report import write_report
from quanta.report.html import format_measurement
from tests.report.test_html import write_fake_run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rejection_band_is_one_binomial_sigma_on_the_background_efficiency():
    # 1000 background events, 10 pass: eps = 0.01 ± 0.003146, so 1/eps from 75.9 to 146
    low, high = rejection_band(np.array([0.01, 0.5, 0.0005]), 1000.0)
    sigma = math.sqrt(0.01 * 0.99 / 1000)
    assert low[0] == pytest.approx(1 / (0.01 + sigma)) and low[0] == pytest.approx(76.07, rel=1e-3)
    assert high[0] == pytest.approx(1 / (0.01 - sigma)) and high[0] == pytest.approx(145.9, rel=1e-3)
    assert low[1] < 2.0 < high[1]
    assert math.isinf(high[2])  # eps = 0.0005 ± 0.0007: no upper edge


def test_roc_figure_draws_a_band_along_each_curve():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    score = rng.normal(2.0 * y, 1.0)
    fig = roc_figure({"bdt": (y, score)})
    (ax,) = fig.axes
    bands = ax.collections
    assert len(bands) == 1
    path = bands[0].get_paths()[0].vertices
    eff_s, eff_b, _ = roc_curve(y, score)
    inside = (eff_s > 0.29) & (eff_s < 0.31) & (eff_b > 0)
    low, high = rejection_band(eff_b[inside], float(np.count_nonzero(y == 0)))
    near = path[(path[:, 0] > 0.29) & (path[:, 0] < 0.31), 1]
    assert near.min() == pytest.approx(low.min(), rel=0.05)
    assert near.max() == pytest.approx(min(high.max(), 1e15), rel=0.05)
    plt.close(fig)


def test_report_quotes_errors_marks_low_statistics_and_states_split_sizes(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=2000, splits=("train", "test"))
    metrics = json.loads((run_dir / "metrics.json").read_text())["bdt"]["test"]
    page = write_report(run_dir).read_text()
    table = page[page.index('<table class="metrics"'):]
    table = table[:table.index("</p>")]
    auc_text = f"{metrics['auc']:.4f} ± {metrics['auc_error']:.4f}"
    assert re.fullmatch(r"0\.\d{4} ± 0\.0\d{3}", auc_text) and auc_text in table
    assert metrics["rejection_at_0.3_low_statistics"]  # a few of 255 background events pass
    count = metrics["rejection_at_0.3_passing_background"]
    assert 0 < count < 20
    assert '<sup class="low-statistics"' in table and "†" in table
    note = html.unescape(re.sub(r"<[^>]+>", "", table[table.index("† Low statistics"):]))
    assert f"bdt (test) 1/εB @ εS = 0.3: {count} background events" in note
    signal = int(np.load(run_dir / "bdt" / "predictions.npz")["test_y"].sum())
    assert f"test — 500 events ({signal} signal, {500 - signal} background)" in table
    assert "train — 2,000 events" in table
    assert "The shaded band is ±1σ statistical" in page


def test_printed_table_marks_a_rejection_on_few_background_events(capsys):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 800)
    x = (1.2 * y[:, None] + rng.normal(0.0, 1.0, (800, 2))).astype(np.float32)
    run = qt.fit("logistic_regression", (x, y), verbose=True)
    test = run.metrics["test"]
    printed = capsys.readouterr().out
    assert format_measurement(test["auc"], test["auc_error"]) in printed
    flagged = [p for p in (0.3, 0.5) if test[f"rejection_at_{p}_low_statistics"]]
    assert flagged, test
    assert "rests on fewer than 20 surviving background events" in printed
    assert " !" in printed.split("test metrics:")[1]
