"""The report's Input variables and Correlations sections: the training inputs of each class.

What a TMVA user looks at before any classifier: every input variable of signal and background
overlaid (normalised, with the fractions under and over the axis), the mean image of each class
for image inputs, the multiplicity and the per-element features for sets, the event weights per
class, and the linear correlation matrices of each class (for regression: each input's
correlation with the target).

It reads ``inputs.json`` (:meth:`quanta.rundir.RunDirectory.read_inputs`), the binned summary
:mod:`quanta.evaluate.input_summary` wrote from the training split when the run was made; runs
written before it existed have none, and the sections are then left out.
"""

from __future__ import annotations

from typing import Any

from quanta.errors import UserError
from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord
from quanta.rundir import RunDirectory


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _about(summary: dict[str, Any]) -> str:
    """One sentence: which rows, how many, weighted or not, which view of the data."""
    rows, used = summary.get("rows", 0), summary.get("rows_used", 0)
    sample = (
        f"a seeded subset of {used:,} of its {rows:,} rows" if used < rows else f"all {rows:,} rows"
    )
    weighting = (
        "weighted by the per-event weights"
        if summary.get("weighted")
        else "each event counted once (no weights)"
    )
    groups = summary.get("groups") or []
    if summary.get("grouping") == "classes":
        grouped = f"per class ({', '.join(str(g['name']) for g in groups)})"
    elif summary.get("grouping") == "regression":
        grouped = "all events together (regression: the targets below)"
    else:
        grouped = "all events together (no classes)"
    return (
        f"The training split, {sample}, {weighting}, {grouped}"
        "; the experiment's shared data (a method's own <code>data:</code> view is not shown); "
        "histograms normalised to unit area, under- and overflow included."
    )


def _overlay(groups: list[dict[str, Any]]) -> str:
    """How the histograms are overlaid, in words."""
    if len(groups) == 2:
        return (
            "Each input variable per class, normalised to unit area, as TMVA overlays them "
            "(signal filled, background hatched; the corner text gives signal first)"
        )
    if len(groups) == 1:
        return "Each input variable of all events, normalised to unit area"
    return "Each input variable per class, normalised to unit area, one line per class"


def _weights_table(summary: dict[str, Any]) -> str:
    weights = summary.get("weights") or {}
    rows = []
    for group, stats in zip(summary.get("groups") or [], weights.get("stats") or [], strict=False):
        cells = "".join(
            f'<td class="num">{_number(stats.get(key))}</td>'
            for key in ("events", "sum", "mean", "min", "max", "negative")
        )
        rows.append(f'<tr><td class="method">{escaped(group["name"])}</td>{cells}</tr>')
    head = "".join(
        f'<th class="num">{name}</th>'
        for name in ("Events", "Sum of weights", "Mean", "Min", "Max", "Negative")
    )
    return (
        f"<table><thead><tr><th>Class</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _capped(block: dict[str, Any], what: str) -> str:
    total, shown = block.get("total", 0), block.get("shown", 0)
    if total > shown:
        return f'<p class="note">The first {shown} of {total} {what} are shown and correlated.</p>'
    return ""


def _input_blocks(summary: dict[str, Any]) -> list[str]:
    from quanta.evaluate import input_figures as figures
    from quanta.report.html import _figure_block

    groups = summary.get("groups") or []
    layout = summary.get("layout")
    blocks = []
    if layout == "image":
        images = summary["images"]
        shape = " × ".join(map(str, images.get("shape") or []))
        how = []
        if images.get("factor", 1) > 1:
            how.append(f"averaged in blocks of {images['factor']} × {images['factor']} pixels")
        if images.get("depth_averaged"):
            how.append("averaged over the depth")
        if images.get("channels_shown", 0) < images.get("channels", 0):
            how.append(f"the first {images['channels_shown']} of {images['channels']} channels")
        caption = (
            f"The mean image of each class (inputs {shape}"
            + (f"; {', '.join(how)}" if how else "")
            + "), one colour scale per channel (logarithmic for a sparse, peaked image)."
        )
        blocks.append(
            _figure_block(
                "Mean image per class", caption, lambda: figures.mean_images_figure(images, groups)
            )
        )
    elif layout == "set":
        blocks.append(
            _figure_block(
                "Multiplicity",
                "The number of valid elements per event (the mask's sum), per class.",
                lambda: figures.multiplicity_figure(summary["multiplicity"], groups),
            )
        )
        features = summary["features"]
        caption = (
            f"Each per-element feature over the {summary.get('elements', 0):,} valid elements: "
            f"{_overlay(groups)[len('Each input variable ') :]}; the under- and overflow fractions "
            "in each panel's corner."
        )
        blocks.append(
            _capped(features, "per-element features")
            + _figure_block(
                "Per-element features",
                caption,
                lambda: figures.input_variables_figure(
                    features["histograms"], groups, xlabel_prefix="element "
                ),
            )
        )
    else:
        features = summary["features"]
        caption = f"{_overlay(groups)}; the under- and overflow fractions in each panel's corner."
        blocks.append(
            _capped(features, "input variables")
            + _figure_block(
                "Input variables",
                caption,
                lambda: figures.input_variables_figure(features["histograms"], groups),
            )
        )
        if summary.get("targets"):
            blocks.append(
                _figure_block(
                    "Regression target",
                    "The distribution of each target column in the training split.",
                    lambda: figures.input_variables_figure(summary["targets"], groups, columns=3),
                )
            )
    if summary.get("weights"):
        weights = summary["weights"]
        negative = sum(s.get("negative", 0) for s in weights.get("stats") or [])
        caption = (
            "The per-event weights of each class, each event counted once; they weight every "
            "histogram and correlation of these sections (where the metrics use them: the Data "
            "section's metrics weighted)."
            + (f" {negative:,} events carry negative weights." if negative else "")
        )
        blocks.append(
            _figure_block("Event weights", caption, lambda: figures.weights_figure(weights, groups))
            + _weights_table(summary)
        )
    else:
        blocks.append('<p class="note">No event weights: every event counts once.</p>')
    return blocks


def _correlation_blocks(summary: dict[str, Any]) -> list[str]:
    from quanta.evaluate import input_figures as figures
    from quanta.report.html import _figure_block

    groups = summary.get("groups") or []
    blocks = []
    if summary.get("correlation"):
        over = "valid elements" if summary.get("layout") == "set" else "events"
        each = (
            "of each class separately, as TMVA shows them"
            if summary.get("grouping") == "classes"
            else "all together"
        )
        caption = (
            "The linear (Pearson) correlation coefficients of the inputs in %, "
            f"over the {over} {each}"
            + (", weighted" if summary.get("weighted") else "")
            + "; blank where a variable is constant."
        )
        blocks.append(
            _figure_block(
                "Linear correlation matrices",
                caption,
                lambda: figures.correlation_figure(summary["correlation"], groups),
            )
        )
    if summary.get("target_correlation"):
        record = summary["target_correlation"]
        caption = "The linear correlation coefficient of each input with the regression target."
        rows = "".join(
            f"<tr><td>{escaped(name)}</td>"
            + "".join(f'<td class="num">{_number(values[i])}</td>' for values in record["values"])
            + "</tr>"
            for i, name in enumerate(record["names"])
        )
        head = "".join(f'<th class="num">{escaped(t)}</th>' for t in record["targets"])
        blocks.append(
            _figure_block(
                "Correlation with the target",
                caption,
                lambda: figures.target_correlation_figure(record),
            )
            + f"<table><thead><tr><th>Input</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
    return blocks


def inputs_section(run: RunRecord) -> str:
    """The Input variables and Correlations sections, or "" for a run without ``inputs.json``."""
    try:
        summary = RunDirectory(run.path, writer=False).read_inputs()
    except UserError as error:
        return f'<h2>Input variables</h2><p class="missing">Not shown: {escaped(error)}</p>'
    if not summary:
        return ""
    page = f'<h2>Input variables</h2><p class="note">{_about(summary)}</p>' + "".join(
        _input_blocks(summary)
    )
    correlations = _correlation_blocks(summary)
    if correlations:
        page += "<h2>Correlations</h2>" + "".join(correlations)
    return page


__all__ = ["inputs_section"]
