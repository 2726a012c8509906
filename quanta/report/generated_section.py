"""The report's Generated samples section: how close each generative method's samples are to data.

For every method whose folder holds a ``generated.json``
(:func:`quanta.evaluate.generated.compare_samples`, written after the method
drew as many samples as the test split holds), the section shows one summary
table of all such methods (the classifier test's AUCs, the mean and largest
separation power, the mean normalised Wasserstein distance, the diversity and
the sampling speed), then per method the table of its observables and a grid
of their histograms, the data filled and the generated samples as a line,
each panel titled with its separation power. Runs without generative methods
have no such files and the section is left out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.report.markup import escaped
from quanta.report.rundir import RunRecord
from quanta.rundir import METHOD_NAME, RunDirectory

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: at most this many panels per method's figure (those of largest separation power beyond it)
MAX_PANELS = 48
#: panels per row of the figure
COLUMNS = 6


def read_comparisons(run: RunRecord) -> dict[str, dict[str, Any]]:
    """``{method: generated.json}`` of the methods of ``run`` that generated samples."""
    directory = RunDirectory(run.path, writer=False)
    records = {}
    for method in run.methods:
        if METHOD_NAME.match(method.name):  # never follow a name like "../x" out of the run
            record = directory.method(method.name).read_generated()
            if isinstance(record, dict):
                records[method.name] = record
    return records


def _number(value: Any, digits: int = 3) -> str:
    """A finite number with ``digits`` decimals, else a dash."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def _observables(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's observables that carry a name and a separation power."""
    observables = record.get("observables")
    if not isinstance(observables, list):
        return []
    return [
        o
        for o in observables
        if isinstance(o, dict)
        and isinstance(o.get("name"), str)
        and isinstance(o.get("separation_power"), (int, float))
    ]


#: the summary table's columns: (title, how a record gives the cell)
_SUMMARY = (
    ("Classifier AUC", lambda r: _number(r.get("classifier_auc"))),
    ("AUC (high-level)", lambda r: _number(r.get("classifier_auc_high_level"))),
    ("Separation power (mean)", lambda r: _number(r.get("separation_power_mean"))),
    (
        "Separation power (max)",
        lambda r: (
            _number(r.get("separation_power_max"))
            + (
                f" ({escaped(r['separation_power_max_observable'])})"
                if isinstance(r.get("separation_power_max_observable"), str)
                else ""
            )
        ),
    ),
    ("W<sub>1</sub>/σ (mean)", lambda r: _number(r.get("wasserstein_mean"))),
    ("Diversity (NN)", lambda r: _number(_diversity(r).get("nearest_neighbour_ratio"))),
    ("Duplicates", lambda r: _percent(_diversity(r).get("duplicate_fraction"))),
    ("Samples/s", lambda r: _rate(r.get("samples_per_second"))),
)


def _diversity(record: dict[str, Any]) -> dict[str, Any]:
    diversity = record.get("diversity")
    return diversity if isinstance(diversity, dict) else {}


def _percent(value: Any) -> str:
    return "—" if _number(value) == "—" else f"{100 * value:.1f} %"


def _rate(value: Any) -> str:
    return "—" if _number(value) == "—" else f"{value:,.0f}"


def _summary_table(records: dict[str, dict[str, Any]]) -> str:
    head = "".join(f'<th class="num">{title}</th>' for title, _ in _SUMMARY)
    rows = "".join(
        f'<tr><td class="method">{escaped(name)}</td>'
        + "".join(f'<td class="num">{cell(record)}</td>' for _, cell in _SUMMARY)
        + "</tr>"
        for name, record in records.items()
    )
    return (
        f'<div class="wide"><table><thead><tr><th>Method</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _note(records: dict[str, dict[str, Any]]) -> str:
    """What the numbers mean, with the samples and the classifier the records name."""
    sizes = sorted(
        {
            (r["samples"].get("real"), r["samples"].get("fake"))
            for r in records.values()
            if isinstance(r.get("samples"), dict)
        },
        key=str,
    )
    compared = "; ".join(
        f"{real:,} test samples against {fake:,} generated"
        for real, fake in sizes
        if isinstance(real, int) and isinstance(fake, int)
    )
    classifiers = sorted(
        {
            r["classifier"]["model"]
            for r in records.values()
            if isinstance(r.get("classifier"), dict)
            and isinstance(r["classifier"].get("model"), str)
        }
    )
    return (
        '<p class="note" style="max-width: 900px">'
        + (f"{escaped(compared)}. " if compared else "")
        + "Classifier AUC: a classifier trained to tell generated from test samples on half of "
        "each, "
        "its ROC AUC on the other half, on the low-level inputs and on the high-level observables "
        "(0.5: indistinguishable, 1: every sample told apart"
        + (f"; {escaped(', '.join(classifiers))}" if classifiers else "")
        + "). Separation power: ½ Σ (h − g)² / (h + g) of the unit-normalised histograms of an "
        "observable (0: the same shape, 1: disjoint). W<sub>1</sub>/σ: the Wasserstein-1 distance "
        "of the two samples over the test sample's standard deviation. Diversity (NN): the mean "
        "distance of a generated sample to its nearest generated neighbour over the same for test "
        "samples (1: as diverse as the data, towards 0: mode collapse); duplicates: the share of "
        "generated samples that repeat another exactly. Samples/s: generation speed, drawing "
        "as many samples as the test split holds.</p>"
    )


def _observables_table(record: dict[str, Any]) -> str:
    rows = []
    for o in _observables(record):
        unit = o.get("unit") if isinstance(o.get("unit"), str) else ""
        rows.append(
            f'<tr><td class="method">{escaped(o["name"])}</td><td>{escaped(unit)}</td>'
            f'<td class="num">{_number(o["separation_power"], 4)}</td>'
            f'<td class="num">{_number(o.get("wasserstein"), 4)}</td>'
            f'<td class="num">{_number(o.get("wasserstein_normalised"), 4)}</td></tr>'
        )
    if not rows:
        return ""
    return (
        "<details><summary>Every observable: separation power and Wasserstein distance</summary>"
        '<div class="wide"><table><thead><tr><th>Observable</th><th>Unit</th>'
        '<th class="num">Separation power</th><th class="num">W<sub>1</sub></th>'
        '<th class="num">W<sub>1</sub>/σ</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _shown(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The observables drawn: every one with matching edges and histograms, at most
    :data:`MAX_PANELS` (those of largest separation power, in the record's order)."""
    drawable = []
    for o in _observables(record):
        try:
            edges, real, fake = (
                np.asarray(o[key], dtype=float) for key in ("edges", "real", "fake")
            )
        except (KeyError, TypeError, ValueError):
            continue
        if edges.ndim == 1 and len(edges) >= 2 and real.shape == fake.shape == (len(edges) - 1,):
            drawable.append(o)
    if len(drawable) > MAX_PANELS:
        keep = sorted(range(len(drawable)), key=lambda i: -drawable[i]["separation_power"])[
            :MAX_PANELS
        ]
        drawable = [drawable[i] for i in sorted(keep)]
    return drawable


def histograms_figure(observables: list[dict[str, Any]], label: str) -> Figure:
    """A grid of the observables' histograms: the test sample filled, the generated one as a line,
    each panel titled with its separation power."""
    from quanta.evaluate.figures import BACKGROUND_COLOUR, SIGNAL_COLOUR, _figure, _style

    if not observables:
        raise UserError("no observable histograms in generated.json")
    with _style():
        fig, axes = _figure(len(observables), (2.3, 1.9), max_columns=COLUMNS)
        for ax, o in zip(axes, observables, strict=True):
            edges = np.asarray(o["edges"], dtype=float)
            real, fake = np.asarray(o["real"], dtype=float), np.asarray(o["fake"], dtype=float)
            ax.stairs(real, edges, fill=True, color=SIGNAL_COLOUR, alpha=0.35, label="test sample")
            ax.stairs(fake, edges, color=BACKGROUND_COLOUR, linewidth=1.3, label=label)
            if o.get("log") is True and edges[0] > 0:
                ax.set_xscale("log")
            unit = o.get("unit") if isinstance(o.get("unit"), str) else ""
            ax.set_xlabel(o["name"] + (f" [{unit}]" if unit else ""), fontsize=8)
            ax.set_title(f"S = {o['separation_power']:.3f}", fontsize=8.5)
            ax.tick_params(labelsize=7)
            ax.set_xlim(edges[0], edges[-1])
            top = float(np.nanmax(np.concatenate([real, fake]))) if real.size else 1.0
            ax.set_ylim(0, 1.2 * top if math.isfinite(top) and top > 0 else 1.0)
        axes[0].set_ylabel("fraction", fontsize=8)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=2, fontsize=9)
    return fig


def _method_blocks(name: str, record: dict[str, Any]) -> str:
    from quanta.report.html import _figure_block

    shown = _shown(record)
    total = len(_observables(record))
    kind = record.get("kind") if isinstance(record.get("kind"), str) else "samples"
    classifier = record.get("classifier") if isinstance(record.get("classifier"), dict) else {}
    inputs = classifier.get("low_level") if isinstance(classifier.get("low_level"), str) else None
    caption = (
        f"{escaped(name)}: the observables of the {escaped(kind)}, histogrammed on edges common to "
        "the test sample (filled) and the generated one (line), each normalised to unit sum; the "
        "end bins also hold the values beyond them. S: the separation power."
        + (
            f" The {len(shown)} of {total} observables of largest separation power."
            if len(shown) < total
            else ""
        )
        + (f" The low-level classifier read {escaped(inputs)}." if inputs else "")
    )
    figure = _figure_block(
        f"Generated samples: {name}",
        caption,
        lambda: histograms_figure(shown, f"generated ({name})"),
    )
    return figure + _observables_table(record)


def generated_section(run: RunRecord) -> str:
    """The Generated samples section of the report, or "" when no method of the run generated."""
    records = read_comparisons(run)
    if not records:
        return ""
    blocks = "".join(_method_blocks(name, record) for name, record in records.items())
    return f"<h2>Generated samples</h2>{_summary_table(records)}{_note(records)}{blocks}"


__all__ = ["generated_section", "histograms_figure", "read_comparisons"]
