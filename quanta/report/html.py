"""The HTML report of a run: one self-contained file a physicist opens in a browser.

:func:`write_report` reads a run directory (see :mod:`quanta.report.rundir`)
and writes ``report.html`` beside its other files. Everything is inside that
one file: figures are base64 PNGs, the style sheet is inline, and there are no
scripts or links to other sites, so the report can be mailed, attached to an
e-log entry, or opened offline years later.

The page shows, top to bottom: the experiment name and start time, a metrics
table of all methods and splits (best value of each column in bold; background
rejections as value ± statistical uncertainty, or a lower limit when no
background passes), the comparison figures with every method overlaid, the
loss curves of the networks, the data (events, selection, derived variables,
weights, whether the metrics are weighted, and every method's inputs), the
environment (versions, device, seed) and the resolved config.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.errors import UserError
from quanta.evaluate import COMPANIONS, metric_goal
from quanta.report.agent_figures import AGENT_FIGURES
from quanta.report.data_section import data_section
from quanta.report.embedding_figures import EMBEDDING_FIGURES
from quanta.report.figure_files import FIGURES_FOLDER, PNG_DPI, FigureFiles, drawing, png_bytes
from quanta.report.figure_files import current as current_drawing
from quanta.report.generated_section import generated_section
from quanta.report.importance_section import importance_section
from quanta.report.inputs_section import inputs_section
from quanta.report.markup import escaped
from quanta.report.metric_learning_figures import METRIC_LEARNING_FIGURES
from quanta.report.ordering_figures import ORDERING_FIGURES
from quanta.report.repeats_section import repeats_section
from quanta.report.rundir import REPORT_ORDER, RunRecord, read_run
from quanta.report.score_figures import SCORE_FIGURES, weighted
from quanta.rundir import RunDirectory

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Figures are rendered at twice their displayed size so they stay sharp on high-DPI screens.
_DPI = PNG_DPI
_DISPLAY_DPI = 96

#: Column titles for the standard metrics; other keys are shown as written.
_LABELS = {
    "auc": "AUC",
    "accuracy": "Accuracy",
    "auc_macro": "AUC (macro)",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "bias": "Bias",
    "resolution": "Resolution (σ)",
    "resolution_robust": "Resolution (σ<sub>68</sub>)",
    "loss": "Loss",
    "ece": "ECE",
    "coverage_68": "Coverage 68 %",
    "coverage_95": "Coverage 95 %",
    "gaussian_nll": "Gaussian NLL",
}

_CSS = """
:root { --ink: #1d2733; --muted: #5b6776; --rule: #d9dee5; --band: #f5f7fa;
        --accent: #0b5394; --best: #e3f1e6; --best-ink: #155d27; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 28px 36px 48px; background: #fff;
       min-height: 100vh; box-shadow: 0 0 0 1px var(--rule); }
header { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 34px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 16px; margin: 22px 0 6px; }
.meta { color: var(--muted); margin: 0; }
.meta span + span::before { content: "·"; margin: 0 8px; color: #a0a9b4; }
.path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px;
        color: var(--muted); word-break: break-all; }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0 4px; }
th, td { padding: 5px 14px; border-bottom: 1px solid var(--rule); text-align: left; }
thead th { border-bottom: 2px solid var(--ink); font-weight: 600; white-space: nowrap;
           vertical-align: bottom; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.split th { background: var(--band); color: var(--accent); font-size: 13px; text-transform: uppercase;
              letter-spacing: 0.06em; padding-top: 7px; padding-bottom: 4px; }
td.method { font-weight: 600; white-space: nowrap; }
td.best { background: var(--best); color: var(--best-ink); font-weight: 700; }
.note { color: var(--muted); font-size: 13px; margin: 4px 0 0; }
figure { margin: 14px 0 26px; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13.5px; max-width: 900px; margin-top: 6px; }
.missing { color: #8a5a00; background: #fff6e0; border-left: 3px solid #e0a400; padding: 6px 12px;
           font-size: 14px; }
table.kv td:first-child { color: var(--muted); white-space: nowrap; }
table.kv td { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
details { border: 1px solid var(--rule); border-radius: 4px; margin: 8px 0; }
summary { cursor: pointer; padding: 8px 12px; background: var(--band); font-weight: 600; }
.wide { max-width: 100%; overflow-x: auto; }  /* a table of many methods scrolls, not the page */
pre { margin: 0; padding: 12px 16px; overflow-x: auto; font-size: 13px; line-height: 1.45;
      font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--rule);
         padding-top: 10px; }
"""


_e = escaped  # short: the page's markup calls it on every value it shows


def metric_label(name: str) -> str:
    """Column title (HTML) for a metric key: ``rejection_at_0.3`` -> ``1/εB @ εS = 0.3``."""
    if name in _LABELS:
        return _LABELS[name]
    if name.startswith("rejection_at_"):
        return f"1/ε<sub>B</sub> @ ε<sub>S</sub> = {_e(name.removeprefix('rejection_at_'))}"
    return _e(name.replace("_", " "))


def format_value(value: float) -> str:
    """A metric value for a table: four significant digits, no exponent for ordinary sizes,
    thousands separators for large numbers, ∞ and — for infinite and missing values."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 1e7 or size < 1e-4:
        return f"{value:.3e}"
    if size >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}" if size >= 1e-3 else f"{value:.4f}"


def format_measurement(value: float, error: float | None = None, lower_limit: bool = False) -> str:
    """A metric with its uncertainty, as a reader quotes it (plain text, not HTML).

    The uncertainty keeps two significant digits and the value is rounded to
    the same decimal place (``410 ± 35``, ``6.67 ± 0.50``). A lower limit on a
    background rejection reads ``> N (no background passes among N)``: ``value``
    is then the number ``N`` of background events, none of which passed the cut.
    """
    if lower_limit and math.isfinite(value):
        events = f"{round(value):,}"
        return f"> {events} (no background passes among {events})"
    if error is None or not math.isfinite(error) or not math.isfinite(value) or error < 0:
        return format_value(value)
    if error == 0 or max(abs(value), error) >= 1e7:
        return f"{format_value(value)} ± {format_value(error)}"
    decimals = min(max(1 - math.floor(math.log10(error)), 0), 8)
    return f"{value:,.{decimals}f} ± {error:,.{decimals}f}"


def _best(values: list[float | None], goal: str | None) -> set[int]:
    """Indices of the best finite-or-infinite values, when at least two methods compete."""
    usable = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if goal is None or len(usable) < 2:
        return set()
    key: Callable[[float], float] = {"max": lambda v: v, "min": lambda v: -v, "zero": lambda v: -abs(v)}[goal]
    top = max(key(v) for _, v in usable)
    return {i for i, v in usable if key(v) == top}


def _companion_of(key: str, keys: list[str]) -> bool:
    """Whether ``key`` qualifies another metric of ``keys`` (``rejection_at_0.3_error``)."""
    return any(key.endswith(suffix) and key.removesuffix(suffix) in keys for suffix in COMPANIONS)


def _ranked(values: dict[str, float], key: str) -> float | None:
    """The value of ``key`` for ranking methods: a lower limit counts as infinitely large."""
    value = values.get(key)
    if value is not None and values.get(f"{key}_lower_limit"):
        return math.inf
    return value


def _cell(values: dict[str, float], key: str) -> str:
    """The table cell text (HTML) of metric ``key``: the value, ± its uncertainty, or a limit."""
    value = values.get(key)
    if value is None:
        return ""
    limit = bool(values.get(f"{key}_lower_limit"))
    text = _e(format_measurement(value, values.get(f"{key}_error"), limit))
    if values.get(f"{key}_low_statistics"):
        passing = values.get(f"{key}_passing_background")
        rests = f" (rests on {round(passing):,} background events)" if passing is not None else ""
        text += f'<sup class="low-statistics" title="fewer than 20 background events{rests}">†</sup>'
    return text


def _split_size(run: RunRecord, split: str) -> str:
    """`` — N events (S signal, B background)`` of a split, from the first method that saved
    its predictions (the counts of a binary split's labels); empty when none did."""
    import numpy as np

    for method in run.methods:
        saved = method.predictions.get(split)
        if saved is None:
            continue
        events = int(np.asarray(saved.score).shape[0])
        unit = "episodes" if (run.data.get("info") or {}).get("environment") else "events"
        text = f" — {events:,} {unit}"
        if saved.y is not None and any(k.startswith("rejection_at_")
                                       for k in method.metrics.get(split, {})):
            signal = int(np.count_nonzero(np.asarray(saved.y).reshape(-1) == 1))
            text += f" ({signal:,} signal, {events - signal:,} background)"
        return _e(text)
    return ""


def _metrics_table(run: RunRecord) -> str:
    """One table: rows grouped by split (test first), one column per metric.

    A metric's companions (``<key>_error``, ``<key>_lower_limit``) are shown in
    its own column, as ``value ± error`` or as a lower limit, not as columns.
    """
    keys: list[str] = []
    for method in run.methods:
        for split in REPORT_ORDER:
            for key in method.metrics.get(split, {}):
                if key not in keys:
                    keys.append(key)
    columns = [key for key in keys if not _companion_of(key, keys)]
    splits = [s for s in REPORT_ORDER if any(s in m.metrics for m in run.methods)]
    if not columns or not splits:
        return '<p class="missing">metrics.json holds no metric values.</p>'

    head = "".join(f'<th class="num" title="{_e(c)}">{metric_label(c)}</th>' for c in columns)
    rows = []
    limits = infinite = False
    few: list[tuple[str, str, str, int | None]] = []  # low-statistics rejections, for the note
    for split in splits:
        methods = [m for m in run.methods if split in m.metrics]
        rows.append(f'<tr class="split"><th colspan="{len(columns) + 1}">{_e(split)}'
                    f"{_split_size(run, split)}</th></tr>")
        best = {c: _best([_ranked(m.metrics[split], c) for m in methods], metric_goal(c))
                for c in columns}
        for i, method in enumerate(methods):
            values = method.metrics[split]
            cells = [f'<td class="method">{_e(method.name)}</td>']
            for c in columns:
                css = "num best" if i in best[c] else "num"
                cells.append(f'<td class="{css}">{_cell(values, c)}</td>')
                limits = limits or bool(values.get(f"{c}_lower_limit"))
                if values.get(f"{c}_low_statistics"):
                    few.append((split, method.name, c, values.get(f"{c}_passing_background")))
                infinite = infinite or math.isinf(values.get(c, 0.0))
            rows.append(f"<tr>{''.join(cells)}</tr>")
    note = "Best value of each column within a split in <b>bold</b>."
    if any(f"{c}_error" in m.metrics[s] for s in splits for m in run.methods
           if s in m.metrics for c in ("auc", "accuracy")):
        note += (" The AUC is quoted ± its statistical uncertainty (DeLong's closed form, with "
                 "effective numbers of events when weighted), the accuracy ± its binomial one.")
    if any(c.startswith("rejection_at_") for c in columns):
        note += (
            " Background rejections 1/ε<sub>B</sub> are read off the ROC curve at the given "
            "signal efficiency ε<sub>S</sub>, ± their statistical uncertainty (binomial on "
            "ε<sub>B</sub>, with the effective number of background events when weighted)."
        )
        if limits:
            note += (" “&gt; N (no background passes among N)”: none of the N background "
                     "events passed the cut, so only the lower limit 1/ε<sub>B</sub> &gt; N "
                     "is known.")
        if infinite:
            note += (" ∞ (a run written by an older quanta) means no background event passed "
                     "the cut.")
        if few:
            note += (" † Low statistics: the rejection rests on fewer than 20 background events "
                     "passing the cut, so its binomial uncertainty is itself rough — "
                     + "; ".join(f"{_e(m)} ({_e(s)}) {metric_label(c)}: "
                                 + (f"{round(n):,} background events" if n is not None
                                    else "count unknown")
                                 for s, m, c, n in few) + ".")
    note = f'<p class="note">{note}</p>'
    return (
        f'<table class="metrics"><thead><tr><th>Method</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


def _timing_table(run: RunRecord) -> str:
    keys: list[str] = []
    for method in run.methods:
        keys.extend(k for k in method.seconds if k not in keys)
    if not keys:
        return ""
    head = "".join(f'<th class="num">{_e(k)} [s]</th>' for k in keys)
    rows = "".join(
        f'<tr><td class="method">{_e(m.name)}</td>'
        + "".join(
            f'<td class="num">{format_value(m.seconds[k]) if k in m.seconds else ""}</td>' for k in keys
        )
        + "</tr>"
        for m in run.methods
        if m.seconds
    )
    return f"<h3>Timing</h3><table><thead><tr><th>Method</th>{head}</tr></thead><tbody>{rows}</tbody></table>"


#: the page's content width in inches at the display's 96 dpi (``main``'s 1320 px less padding)
_PAGE_INCHES = 13.0


def _dpi(fig: Figure) -> int:
    """The PNG's dpi: twice the display's, except that a figure wider than the page, which the
    browser shrinks to the page, is drawn with only the pixels the page shows (a 20-inch grid of
    correlation matrices: 2.4 times fewer pixels to draw and encode, nothing visible lost)."""
    width = float(fig.get_size_inches()[0])
    return max(_DISPLAY_DPI, min(_DPI, int(_DPI * _PAGE_INCHES / width))) if width > 0 else _DPI


def _png(fig: Figure, alt: str, data: bytes | None = None, dpi: int | None = None) -> str:
    """The figure as an ``<img>`` holding a base64 PNG (``data`` drawn at ``dpi``, else drawn
    now), displayed at its natural size."""
    dpi = _dpi(fig) if dpi is None else dpi
    data = png_bytes(fig, dpi) if data is None else data
    width = int.from_bytes(data[16:20], "big") * _DISPLAY_DPI // dpi  # PNG IHDR width
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img width="{width}" alt="{_e(alt)}" src="data:image/png;base64,{encoded}">'


def _figure_block(title: str, caption: str, draw: Callable[[], Figure]) -> str:
    """A titled figure, or a one-line note saying why it could not be drawn.

    The figure is drawn in the report's style and, when the report writes figure files, kept
    as ``figures/<name>.png`` (and ``.pdf``; :mod:`quanta.report.figure_files`).
    """
    from quanta.report.style import figure_style

    now = current_drawing()
    with figure_style(now.style):
        try:
            fig = draw()
        except UserError as error:
            return f'<h3>{_e(title)}</h3><p class="missing">Not drawn: {_e(error)}</p>'
        dpi = _dpi(fig)
        data = png_bytes(fig, dpi)
        name = now.files.add(title, data, fig) if now.files is not None else None
    suffix = ".pdf" if now.files is not None and now.files.pdf else ".png"
    file = f' <span class="path">({FIGURES_FOLDER}/{_e(name)}{suffix})</span>' if name else ""
    return (
        f"<h3>{_e(title)}</h3><figure>{_png(fig, title, data, dpi)}"
        f"<figcaption>{caption}{file}</figcaption></figure>"
    )


def _predictions(run: RunRecord, split: str) -> dict[str, tuple]:
    return {m.name: m.predictions[split].as_tuple() for m in run.methods
            if split in m.predictions and m.predictions[split].y is not None}  # figures of labels


def _colours(run: RunRecord) -> dict[str, str]:
    """Each method's colour, fixed by its place in the run, the same in every figure."""
    from quanta.evaluate.figures import method_colours

    return method_colours([m.name for m in run.methods])


def _evaluation_split(run: RunRecord) -> str | None:
    """The split the comparison figures use: test if saved, else valid, else train."""
    for split in REPORT_ORDER:
        if any(split in m.predictions for m in run.methods):
            return split
    return None


def _roc_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate import figures

    if not _predictions(run, split):  # an anomaly search on data without labels
        return []
    return [
        _figure_block(
            f"ROC curves ({split} split)",
            "Background rejection 1/ε<sub>B</sub> against signal efficiency ε<sub>S</sub> for every "
            "method; higher is better. The shaded band is ±1σ statistical (binomial on "
            "ε<sub>B</sub>). Dots and dotted lines mark the working points "
            "ε<sub>S</sub> = 0.3 and 0.5; the dashed grey line is a random guess.",
            lambda: figures.roc_figure(_predictions(run, split), colours=_colours(run)),
        )
    ]


def _score_distribution_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate import figures

    blocks = []
    pairs = {
        m.name: (m.predictions["train"].as_tuple(), m.predictions["test"].as_tuple())
        for m in run.methods
        if "train" in m.predictions and "test" in m.predictions and m.predictions["test"].y is not None
    }
    if pairs:
        blocks.append(
            _figure_block(
                "Overtraining check: score distributions, train vs test",
                "Filled: training events; points: test events; each class normalised to unit area. "
                "The Kolmogorov-Smirnov p-value compares train and test per class (for weighted "
                "events, the weighted distributions, with their effective numbers of events); p below about 0.01 "
                "suggests the method behaves differently on events it was trained on. With large samples "
                "the test detects even tiny differences: judge by the shapes as well.",
                lambda: figures.score_distributions_figure(pairs),
            )
        )
    return blocks


def _multiclass_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate import figures, multiclass

    def draw() -> Figure:
        matrices = {
            name: multiclass.confusion_matrix(y, score, weight)
            for name, (y, score, weight) in _predictions(run, split).items()
        }
        data = run.config.get("data") if isinstance(run.config.get("data"), dict) else {}
        names = run.data.get("classes") or data.get("classes")  # data.json: every source's names
        classes = {len(m) for m in matrices.values()}
        valid_names = (isinstance(names, list) and all(isinstance(n, str) for n in names)
                       and classes == {len(names)})
        return figures.confusion_matrix_figure(matrices, names if valid_names else None)

    return [
        _figure_block(
            f"Confusion matrices ({split} split)",
            "Fraction of the events of each true class (row) assigned to each predicted class "
            "(column), by their weights when they have any; the diagonal holds the per-class "
            "efficiencies.",
            draw,
        )
    ]


def _residual_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate import figures

    predictions = _predictions(run, split)
    return [
        _figure_block(
            f"Residuals ({split} split)",
            "Distribution of predicted minus true value for every method, normalised to unit area; "
            "σ<sub>68</sub> is half the 16–84% interquantile range.",
            lambda: figures.residuals_figure(predictions, colours=_colours(run)),
        )
    ]


def _predicted_vs_true_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate import figures

    predictions = _predictions(run, split)
    return [
        _figure_block(
            f"Predicted vs true ({split} split)",
            "Each method's prediction against the true value; the dashed line is a perfect prediction. "
            "Above 2000 samples: a 2D histogram of the (weighted) counts; up to 2000: one point per "
            "sample, drawn without its weight.",
            lambda: figures.predicted_vs_true_figure(predictions, colours=_colours(run)),
        )
    ]


def _reliability_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate.calibration_figures import reliability_figure

    predictions = _predictions(run, split)
    return [
        _figure_block(
            f"Reliability diagram ({split} split)",
            "Calibration of the predicted probabilities: in each of 10 equal-width bins, the "
            "observed fraction of signal (for several classes: how often the most probable class "
            "is the true one) against the mean predicted probability, with its binomial 68 % "
            "interval. A calibrated method lies on the dashed diagonal; ECE is the event-weighted "
            "mean distance from it. Below: the share of the events in each bin.",
            lambda: reliability_figure(predictions, colours=_colours(run)),
        )
    ]


def _coverage_figures(run: RunRecord, split: str) -> list[str]:
    """The coverage of the methods that predict an uncertainty; nothing when none does."""
    from quanta.evaluate.calibration_figures import coverage_figure

    methods = _with_uncertainty(run, split)
    if not methods:
        return []
    return [
        _figure_block(
            f"Coverage of the predicted uncertainties ({split} split)",
            "For every method that predicts an uncertainty σ per sample: the fraction of samples "
            "whose true value lies inside prediction ± zσ, against the coverage a Gaussian "
            "interval of that width should have. Honest uncertainties follow the dashed diagonal; "
            "below it σ is too small (overconfident), above it too large. Bands: binomial "
            "uncertainty; dotted lines: ±1σ (68.27 %) and ±2σ (95.45 %).",
            lambda: coverage_figure(methods, colours=_colours(run)),
        )
    ]


def _with_uncertainty(run: RunRecord, split: str) -> dict[str, tuple]:
    """``{method: (y, prediction, sigma, weight)}`` of the methods that saved an uncertainty."""
    return {m.name: (p.y, p.score, p.uncertainty, p.weight) for m in run.methods
            if (p := m.predictions.get(split)) is not None and p.uncertainty is not None}


def _pull_figures(run: RunRecord, split: str) -> list[str]:
    """The pulls of the methods that predict an uncertainty; nothing when none does."""
    from quanta.evaluate.calibration_figures import pulls_figure

    methods = _with_uncertainty(run, split)
    if not methods:
        return []
    return [
        _figure_block(
            f"Pulls ({split} split)",
            "For every method that predicts an uncertainty σ per sample: the distribution of "
            "(true − predicted) / σ. Honest Gaussian uncertainties give the dashed N(0, 1): mean "
            "0, width 1. A width above 1 means σ is too small, below 1 too large; a mean away "
            "from 0 is a bias in units of σ. Pulls beyond ±5 are counted in the outer bins.",
            lambda: pulls_figure(methods, colours=_colours(run)),
        )
    ]


def _predictive_band_figures(run: RunRecord, split: str) -> list[str]:
    """Prediction ± 2σ against the true value for the methods that predict an uncertainty."""
    from quanta.evaluate.calibration_figures import predictive_bands_figure

    methods = _with_uncertainty(run, split)
    if not methods:
        return []
    return [
        _figure_block(
            f"Predictive bands ({split} split)",
            "For every method that predicts an uncertainty σ per sample: the prediction with its "
            "±2σ interval against the true value (at most 200 samples, evenly spread in the true "
            "value). About 95 % of honest intervals cross the dashed diagonal; the title gives "
            "the observed fraction over all samples (weighted; the points are drawn without their "
            "weights).",
            lambda: predictive_bands_figure(methods, colours=_colours(run)),
        )
    ]


def _decision_tree_figures(run: RunRecord, split: str | None) -> list[str]:
    """One figure per method whose folder holds a decision tree's record (any task).

    Feature and class names are the record's own (those of the method's training part),
    else the run's (data.json) when they fit the tree's number of inputs.
    """
    from quanta.evaluate.tree_figure import decision_tree_figure

    shared_names, shared_classes = run.data.get("feature_names"), run.data.get("classes")
    blocks = []
    for method in run.methods:
        tree = method.tree
        if tree is None:
            continue
        fits = isinstance(shared_names, list) and len(shared_names) == tree.get("features")
        names = tree.get("feature_names") or (shared_names if fits else None)
        classes = tree.get("class_names") or (
            shared_classes if isinstance(shared_classes, list) else None)
        blocks.append(_figure_block(
            f"Decision tree: {method.name}",
            "The first cuts of the tree fitted on the training split, in the inputs' own units. "
            "The events that pass a box's cut take its first branch (marked yes at the root). "
            "Each box gives the impurity, the number of training events and the node's value; "
            "the fill shows which way the node leans, stronger for purer nodes. (…): deeper cuts "
            "not shown.",
            lambda tree=tree, names=names, classes=classes, title=method.name:
                decision_tree_figure(tree, names, classes, title=title),
        ))
    return blocks


#: the report's figures by the names tasks give them (quanta.tasks.evaluation.Evaluation.figures)
FIGURES = {
    "roc_curves": _roc_figures,
    "score_distributions": _score_distribution_figures,
    "confusion_matrices": _multiclass_figures,
    "residuals": _residual_figures,
    "predicted_vs_true": _predicted_vs_true_figures,
    "reliability": _reliability_figures,
    "coverage": _coverage_figures,
    "pulls": _pull_figures,
    "predictive_bands": _predictive_band_figures,
    "decision_tree": _decision_tree_figures,
    **SCORE_FIGURES,
    **EMBEDDING_FIGURES,
    **METRIC_LEARNING_FIGURES,
    **ORDERING_FIGURES,
    **AGENT_FIGURES,
}

#: figures of what the methods saved rather than of the task: drawn for every task, after the
#: task's own, each leaving itself out when no method saved what it draws
EVERY_TASK_FIGURES = ("decision_tree",)


def _task_figures(task: str | None) -> list:
    """The figure builders of ``task`` (an empty list for a task without figures)."""
    from quanta.tasks.evaluation import EVALUATIONS

    evaluation = EVALUATIONS.get(task) if task else None
    return [FIGURES[name] for name in evaluation.figures] if evaluation else []


def _figures_section(run: RunRecord) -> str:
    blocks: list[str] = []
    split = _evaluation_split(run)
    if split is None:
        blocks.append('<p class="missing">No predictions.npz in the run directory: no figures.</p>')
    elif figure_sets := _task_figures(run.task):
        for draw in figure_sets:
            blocks += draw(run, split)
    else:
        blocks.append(f'<p class="missing">No figures for task {_e(run.task)}.</p>')
    for name in EVERY_TASK_FIGURES:
        blocks += FIGURES[name](run, split)

    histories = {m.name: m.history for m in run.methods  # an agent's returns: learning curves
                 if m.history and not any("train_return" in r for r in m.history)}
    if histories:
        from quanta.evaluate import figures

        blocks.append(
            _figure_block(
                "Training history",
                "Loss per epoch on the training (solid) and validation (dashed) split for every "
                "network method; right: the validation metric, when one was recorded.",
                lambda: figures.loss_curves_figure(histories, colours=_colours(run)),
            )
        )
    return "<h2>Figures</h2>" + "".join(blocks)


def _environment_section(run: RunRecord) -> str:
    if not run.environment:
        return '<h2>Environment</h2><p class="missing">environment.json not found in the run directory.</p>'
    rows = []
    for key, value in run.environment.items():
        if value is None:
            shown = "—"
        elif isinstance(value, (str, int, float)):
            shown = value
        else:
            shown = json.dumps(value, sort_keys=True)
        rows.append(f"<tr><td>{_e(key)}</td><td>{_e(shown)}</td></tr>")
    return f'<h2>Environment</h2><table class="kv"><tbody>{"".join(rows)}</tbody></table>'


#: Data parameters that decide what a method's inputs are (the rest decide which events).
def _config_section(run: RunRecord) -> str:
    return (
        "<h2>Configuration</h2><details><summary>config.yaml (the resolved experiment)</summary>"
        f"<pre>{_e(run.config_text.rstrip())}</pre></details>"
    )


def _started(run: RunRecord) -> str:
    """The run's start time for the title line, from environment.json or the folder name."""
    started = run.environment.get("started")
    if isinstance(started, str):
        try:
            return dt.datetime.fromisoformat(started).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        except ValueError:
            return started
    return run.path.name


def run_style(run: RunRecord) -> str:
    """The figure style the run's experiment chose (``report.style`` of config.yaml)."""
    from quanta.report.style import DEFAULT, check_style

    report = run.config.get("report")
    chosen = report.get("style", DEFAULT) if isinstance(report, dict) else DEFAULT
    return check_style(chosen, f"{run.path / RunDirectory.CONFIG}: report.style")


def render(run: RunRecord, style: str | None = None, files: FigureFiles | None = None) -> str:
    """The report page of a run as an HTML string.

    ``style`` draws the figures in an experiment's style (:mod:`quanta.report.style`; None: the
    run's own, :func:`run_style`); ``files`` also keeps every figure as a PNG (and PDF) file.
    """
    from quanta.report.style import check_style

    style = run_style(run) if style is None else check_style(style, "style")
    with drawing(style, files):
        return _page(run, style, files)


def _page(run: RunRecord, style: str, files: FigureFiles | None) -> str:
    from quanta.report.style import DEFAULT

    facts = [f"started {_started(run)}"]
    if run.task:
        facts.append(f"task: {run.task}")
    if weighted(run):
        facts.append("weighted events: metrics and figures use the event weights (see Data)")
    facts.append(f"{len(run.methods)} method{'s' if len(run.methods) != 1 else ''}: "
                 + ", ".join(m.name for m in run.methods))
    seed = run.config.get("seed", run.environment.get("seed"))
    if seed is not None:
        facts.append(f"seed {seed}")
    if style != DEFAULT:
        facts.append(f"figures in the {style} style")
    body = (f"<h2>Metrics</h2>{_metrics_table(run)}{repeats_section(run)}{_timing_table(run)}"
            f"{_figures_section(run)}{generated_section(run)}{importance_section(run)}"
            f"{data_section(run)}{inputs_section(run)}{_environment_section(run)}"
            f"{_config_section(run)}")
    return page(f"{run.name} — quanta report", run.name, facts, run.path, files, body,
                "the files of the run directory")


def page(title: str, heading: str, facts: list[str], folder: Path, files: FigureFiles | None,
         body: str, source: str, css: str = "") -> str:
    """A self-contained report page: a header (``heading``, the ``facts`` line, ``folder``, where
    the figure files are), the sections of ``body`` (HTML), a footer naming ``source``; text is
    escaped here, ``body`` already is."""
    from quanta import __version__

    meta = "".join(f"<span>{_e(f)}</span>" for f in facts)
    formats = "PNG and PDF files" if files is not None and files.pdf else "a PNG file"
    figure_files = "" if files is None else (
        f'<p class="path">Every figure is also written as {formats} in '
        f"{_e(files.folder.resolve())}/ (named after its title)</p>")
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}{css}</style></head><body><main>"
        f'<header><h1>{_e(heading)}</h1><p class="meta">{meta}</p>'
        f'<p class="path">{_e(Path(folder).resolve())}</p>{figure_files}</header>'
        f"{body}<footer>Written by quanta {_e(__version__)} on {_e(generated)} from "
        f"{_e(source)}.</footer></main></body></html>\n"
    )


def write_report(run_dir: str | Path, style: str | None = None, pdf: bool | None = None) -> Path:
    """Write ``run_dir/report.html`` from the run directory's files; returns its path.

    Every figure is also written as ``run_dir/figures/<name>.png``, and with ``pdf`` as
    ``.pdf`` (None: the run's ``report.pdf``); the folder is replaced whole
    (:class:`~quanta.report.figure_files.FigureFiles`). ``style`` redraws the figures in
    another style than the run's own (``quanta report RUN_DIR --style cms``).

    Reads only ``run_dir``: config.yaml and metrics.json are required,
    environment.json, ``<method>/history.jsonl`` and
    ``<method>/predictions.npz`` are used when present. A missing or corrupt
    required file raises :class:`quanta.errors.UserError` naming it. The file
    is written atomically, so an interrupted write never leaves half a report.
    """
    from quanta.report.style import check_style

    run = read_run(run_dir)
    style = run_style(run) if style is None else check_style(style, "--style")
    directory = RunDirectory(run.path)
    # a run from before the folder's name was reserved may have a method of that name
    owned = FIGURES_FOLDER in {m.name for m in run.methods}
    if pdf is None:
        report = run.config.get("report")
        pdf = bool(report.get("pdf", False)) if isinstance(report, dict) else False
    files = None if owned else FigureFiles(run.path / FIGURES_FOLDER, pdf=pdf)
    page = render(run, style, files)
    if files is not None and directory.writer:
        files.write()
    return directory.write_text(RunDirectory.REPORT, page)


__all__ = ["format_measurement", "format_value", "metric_label", "render", "run_style", "write_report"]
