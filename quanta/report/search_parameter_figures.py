"""The search's figures over its parameters: parallel coordinates and slices.

Both read the complete trials of a :class:`~quanta.report.search_record.StudyRecord`. A
parameter's axis follows its declaration in search.json: a choice is an axis of its choices in
the declared order, a parameter declared with ``log: true`` is drawn on a log axis, any other
number on a linear one. A trial that did not sample a parameter (a conditional one, or a layer
it does not have) has no point on that axis: its line of parallel coordinates passes it by.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.evaluate.figures import _figure, _style
from quanta.report.search_figures import objective_label, plain, value_colours
from quanta.report.search_record import StudyRecord, Trial

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the most panels of one slices figure (the first parameters of the space beyond that)
MOST_SLICES = 24


def _choice_text(value: Any) -> str:
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return plain(text if len(text) <= 14 else text[:13] + "…")


def _positions(study: StudyRecord, name: str, trials: list[Trial]) -> tuple[np.ndarray, dict]:
    """The trials' values of parameter ``name`` on a 0..1 axis and how to label that axis.

    Returns the positions (NaN where a trial has no value) and ``{"ticks": [...], "labels":
    [...]}`` on the same 0..1 scale.
    """
    choices = study.choices(name)
    raw = [t.params.get(name, math.nan) if name in t.params else math.nan for t in trials]
    if choices is not None:
        spread = max(len(choices) - 1, 1)
        position = {repr(c): i / spread if len(choices) > 1 else 0.5 for i, c in enumerate(choices)}
        values = np.array([position.get(repr(v), math.nan) if name in t.params else math.nan
                           for v, t in zip(raw, trials, strict=True)])
        ticks = [position[repr(c)] for c in choices]
        return values, {"ticks": ticks, "labels": [_choice_text(c) for c in choices]}
    numbers = np.array(raw, dtype=float)
    log = study.is_log(name)
    scaled = np.log10(numbers) if log else numbers
    finite = scaled[np.isfinite(scaled)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low or 1.0
    values = (scaled - low) / span if high > low else np.where(np.isfinite(scaled), 0.5, np.nan)
    marks = np.linspace(low, high, 5) if high > low else np.array([low])
    whole = bool(finite.size) and not log and bool(np.all(finite == np.round(finite)))
    if whole and 0 < high - low <= 8:  # a few whole numbers (a count of layers): each one
        marks = np.arange(low, high + 1)
    ticks = ((marks - low) / span) if high > low else np.array([0.5])
    labels = [f"{10 ** m:.3g}" if log else f"{m:.3g}" for m in marks]
    return values, {"ticks": list(ticks), "labels": labels}


def _log_axis(ax, values: np.ndarray) -> None:
    """A log x axis labelled in plain numbers: at each power of ten, and at 2 and 5 times it
    when ``values`` span less than two decades (which would otherwise crowd the minor labels)."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.set_xscale("log")
    decades = math.log10(values.max() / values.min()) if values.size else 0.0
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,)))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _value_order(study: StudyRecord, trials: list[Trial]) -> tuple[np.ndarray, np.ndarray]:
    """The first objective's values and the trials' drawing order: the best last, on top."""
    values = np.array([t.values[0] for t in trials])
    order = np.argsort(values if study.objectives[0].maximised else -values, kind="stable")
    return values, order


def parallel_coordinates_figure(study: StudyRecord) -> Figure:
    """One line per complete trial across an axis per parameter and per objective, coloured by
    the first objective's value (darker is better)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    trials = study.complete
    names = study.parameters
    if not trials or not names:
        raise UserError("no complete trial with sampled parameters yet")
    short = study.short_names
    axes_data = [_positions(study, name, trials) for name in names]
    titles = [plain(short[name]) + (" (log)" if study.is_log(name) else "") for name in names]
    for k, objective in enumerate(study.objectives):
        scores = np.array([t.values[k] for t in trials])
        low, high = float(scores.min()), float(scores.max())
        span = high - low or 1.0
        marks = np.linspace(low, high, 5) if high > low else np.array([low])
        axes_data.append(((scores - low) / span if high > low else np.full(len(scores), 0.5),
                          {"ticks": list((marks - low) / span if high > low else [0.5]),
                           "labels": [f"{m:.4g}" for m in marks]}))
        titles.append(plain(objective.metric))
    values, order = _value_order(study, trials)
    colour_map = value_colours(study.objectives[0])
    norm = Normalize(float(values.min()), float(values.max()) if values.max() > values.min()
                     else float(values.min()) + 1.0)
    lines = np.array([positions for positions, _ in axes_data]).T  # [trial, axis]
    with _style():
        fig, (ax,) = _figure(1, (min(max(1.45 * len(titles) + 1.8, 7.0), 13.0), 4.8))
        for i in order:  # a parameter the trial did not sample: its line passes that axis by
            present = np.isfinite(lines[i])
            ax.plot(np.arange(len(titles))[present], lines[i][present], linewidth=1.4,
                    color=colour_map(norm(values[i])), alpha=0.85, marker="o", markersize=3)
        for position, (_, axis) in enumerate(axes_data):
            ax.axvline(position, color="#333333", linewidth=0.8, zorder=0)
            for tick, label in zip(axis["ticks"], axis["labels"], strict=True):
                ax.plot([position - 0.03, position], [tick, tick], color="#333333", linewidth=0.8)
                ax.text(position - 0.05, tick, label, ha="right", va="center", fontsize=7.5,
                        color="#333333", zorder=5,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.6})
        ax.set_xlim(-0.55, len(titles) - 0.8)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xticks(np.arange(len(titles)), titles, rotation=20, ha="right", fontsize=9)
        ax.tick_params(axis="x", which="both", top=False, bottom=False)
        ax.set_yticks([])
        ax.minorticks_off()
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        bar = fig.colorbar(ScalarMappable(norm, colour_map), ax=ax, pad=0.01, fraction=0.04)
        bar.set_label(objective_label(study.objectives[0]))
    return fig


def slices_figure(study: StudyRecord, objective: int = 0) -> Figure:
    """One panel per parameter: each complete trial's value of objective ``objective`` against
    the parameter's value, coloured by the trial's number (later trials darker)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    trials = study.complete
    names = study.parameters[:MOST_SLICES]
    if not trials or not names:
        raise UserError("no complete trial with sampled parameters yet")
    short = study.short_names
    values = np.array([t.values[objective] for t in trials])
    numbers = np.array([t.number for t in trials])
    colour_map = colormaps["Blues"]
    norm = Normalize(float(numbers.min()) - 0.3 * (np.ptp(numbers) + 1), float(numbers.max()))
    rng = np.random.default_rng(0)  # the jitter of categorical points, the same every report
    with _style():
        fig, axes = _figure(len(names), (4.2, 3.3), max_columns=3)
        for ax, name in zip(axes, names, strict=True):
            has = np.array([name in t.params for t in trials])
            choices = study.choices(name)
            if choices is not None:
                index = {repr(c): i for i, c in enumerate(choices)}
                x = np.array([index[repr(t.params[name])] for t in trials if name in t.params],
                             dtype=float)
                x += rng.uniform(-0.12, 0.12, size=x.size)
                ax.set_xticks(np.arange(len(choices)), [_choice_text(c) for c in choices],
                              rotation=20 if len(choices) > 3 else 0)
                ax.tick_params(axis="x", which="minor", bottom=False, top=False)
                ax.set_xlim(-0.5, len(choices) - 0.5)
            else:
                x = np.array([float(t.params[name]) for t in trials if name in t.params])
                if study.is_log(name):
                    _log_axis(ax, x)
                elif np.all(x == np.round(x)):  # a count (of layers): whole-number ticks
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                    ax.tick_params(axis="x", which="minor", bottom=False, top=False)
            ax.scatter(x, values[has], c=colour_map(norm(numbers[has])), s=22,
                       edgecolors="#08306b", linewidths=0.4)
            ax.set_xlabel(plain(short[name]) + (" (log)" if study.is_log(name) else ""),
                          fontsize=10)
            ax.set_ylabel(plain(study.objectives[objective].metric), fontsize=10)
        margin = 0.06 * (np.ptp(values) or abs(float(values[0])) or 1.0)
        for ax in axes:  # one value scale in every panel, so that they compare at a glance
            ax.set_ylim(float(values.min()) - margin, float(values.max()) + margin)
    return fig


__all__ = ["MOST_SLICES", "parallel_coordinates_figure", "slices_figure"]
