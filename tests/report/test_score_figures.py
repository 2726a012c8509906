"""The report's score figures: the overtraining check on a log axis (binary), one-vs-rest ROC
curves (multiclass), resolution and bias in bins of the true value (regression), each for its
own task, using the event weights and saying where a figure cannot."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from quanta.evaluate import binary, figures, multiclass
from quanta.report import write_report
from tests.report.test_html import write_fake_run

LOG_CHECK = "Overtraining check on a log scale"
ONE_VS_REST = "One-vs-rest ROC curves"
RESOLUTION = "Resolution and bias in bins of the true value"
TITLES = {"binary": LOG_CHECK, "multiclass": ONE_VS_REST, "regression": RESOLUTION}


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The report of a weighted fake run of each task, and of an unweighted binary one."""
    root = tmp_path_factory.mktemp("score_figures")
    made = {task: write_report(write_fake_run(root / task, task=task, n=800, weights=True))
            for task in TITLES}
    made["unweighted"] = write_report(write_fake_run(root / "plain", n=800))
    return {name: path.read_text(encoding="utf-8") for name, path in made.items()}


def _block(page: str, title: str) -> str:
    """The HTML of the figure block whose heading starts with ``title``."""
    start = page.index(f"<h3>{html.escape(title)}")
    end = page.find("<h3>", start + 4)
    return page[start:end if end > 0 else len(page)]


def _caption(block: str) -> str:
    inside = block.split("<figcaption>")[1].split("</figcaption>")[0]
    return html.unescape(re.sub(r"<[^>]+>", "", inside))


@pytest.mark.parametrize("task", sorted(TITLES))
def test_each_new_figure_appears_for_its_own_task_only(pages, task):
    block = _block(pages[task], TITLES[task])
    assert '<img width="' in block and "Not drawn" not in block
    assert "Every event counts with its weight." in _caption(block)
    for other, title in TITLES.items():
        if other != task:
            assert title not in pages[task]


def test_the_log_check_sits_after_the_linear_one_and_the_plain_run_has_no_weights(pages):
    page = pages["binary"]
    assert page.index("Overtraining check: score distributions") < page.index(LOG_CHECK)
    caption = _caption(_block(page, LOG_CHECK))
    assert "effective numbers of events" in caption
    plain = _caption(_block(pages["unweighted"], LOG_CHECK))
    assert "weight" not in plain and "compare train and test per class" in plain


def test_the_report_says_when_events_are_weighted(pages):
    assert "weighted events: metrics and figures use the event weights" in pages["binary"]
    assert "metrics and figures use the event weights" not in pages["unweighted"]
    data = html.unescape(pages["regression"][pages["regression"].index("<h2>Data</h2>"):])
    assert re.search(r"event weights</td><td>test: 200 events, Σw = [\d.,]+, effective \d+", data)
    assert "metrics weighted</td><td>yes: metrics and figures use the per-event weights" in data
    assert "event weights</td>" not in pages["unweighted"]


def test_captions_say_where_weights_are_not_used(pages):
    caption = _caption(_block(pages["regression"], "Predicted vs true"))
    assert "up to 2000: one point per sample, drawn without its weight" in caption


def _legend(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes if ax.get_legend()
            for text in ax.get_legend().get_texts()]


def test_the_log_check_is_on_a_log_axis_and_its_ks_values_are_weighted():
    rng = np.random.default_rng(0)
    train_y, test_y = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    train_s, test_s = rng.random(2000), np.sqrt(rng.random(2000))
    train_w = 2 * train_s  # reweights train onto the test distribution
    plain = figures.score_distributions_figure({"m": ((train_y, train_s), (test_y, test_s))},
                                               log=True)
    weighted = figures.score_distributions_figure(
        {"m": ((train_y, train_s, train_w), (test_y, test_s, None))}, log=True)
    assert plain.axes[0].get_yscale() == "log"
    assert plain.axes[0].get_ylim()[0] > 0
    expected = binary.overtraining_ks(train_y, train_s, test_y, test_s, train_w)
    assert f"Signal (test), KS p = {expected['signal']:.3g}" in _legend(weighted)
    assert f"Signal (test), KS p = {expected['signal']:.3g}" not in _legend(plain)


def test_one_vs_rest_legend_gives_the_weighted_auc_of_each_class():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 900)
    logits = rng.normal(0.0, 1.0, (900, 3))
    logits[np.arange(900), y] += 1.5
    weight = rng.uniform(0.2, 3.0, 900)
    figure = figures.one_vs_rest_roc_figure({"net": (y, logits, weight)}, ["e", "mu", "pi"])
    aucs = multiclass.one_vs_rest_auc(y, logits, weight)
    assert _legend(figure)[:3] == [f"{name} (AUC = {value:.4f})"
                                   for name, value in zip(["e", "mu", "pi"], aucs, strict=True)]
    assert figure.axes[0].get_yscale() == "log"


def test_resolution_figure_has_one_column_per_target():
    rng = np.random.default_rng(2)
    y = rng.uniform(1.0, 10.0, (600, 2))
    prediction = y + rng.normal(0.0, 0.5, (600, 2))
    figure = figures.resolution_figure({"a": (y, prediction), "b": (y, 1.1 * prediction)},
                                       bins=5, target_names=["energy", "mass"])
    assert len(figure.axes) == 4  # resolution above bias, for each target
    assert [ax.get_title(loc="left") for ax in figure.axes[::2]] == ["energy", "mass"]
    assert [ax.get_xlabel() for ax in figure.axes[1::2]] == ["True energy", "True mass"]
    # two resolutions (sigma_68 and sigma) per method in the legend
    assert len(_legend(figure)) == 2 * 2 + 2 * 2


def test_predicted_vs_true_histogram_holds_the_weighted_counts():
    rng = np.random.default_rng(3)
    y = rng.uniform(0.0, 100.0, 3000)
    prediction = y + rng.normal(0.0, 5.0, 3000)
    weight = np.where(y > 50.0, 4.0, 1.0)
    figure = figures.predicted_vs_true_figure({"m": (y, prediction, weight)})
    counts = figure.axes[0].collections[0].get_array()
    assert float(np.nansum(counts)) == pytest.approx(weight.sum(), rel=0.02)  # 0.5-99.5 % range
    assert figure.axes[1].get_ylabel() == "Weighted events"
