"""The search's figures over its trials: history, importances, pruning curves, Pareto front.

Each function takes a :class:`~quanta.report.search_record.StudyRecord` and returns a
:class:`matplotlib.figure.Figure` in quanta's look (inward ticks, no legend frame; an
experiment's style on top when the report is drawn in one), or raises a one-line
:class:`~quanta.errors.UserError` saying why there is nothing to draw, which the report shows in
place of the figure. A trial's state has one colour in every figure: complete blue, pruned
orange, failed red, running grey. The figures of the parameters (parallel coordinates, slices)
are in :mod:`quanta.report.search_parameter_figures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quanta.errors import UserError
from quanta.evaluate.figures import METHOD_COLOURS, _figure, _style
from quanta.report.search_record import Objective, StudyRecord, Trial

if TYPE_CHECKING:
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

#: one colour per trial state, the same in every figure of the search
STATE_COLOURS = {"COMPLETE": METHOD_COLOURS[0], "PRUNED": METHOD_COLOURS[4],
                 "FAIL": METHOD_COLOURS[1], "RUNNING": "#8c8c8c", "WAITING": "#bdbdbd"}
BEST_COLOUR = METHOD_COLOURS[2]
#: the words the figures use for a state
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
               "RUNNING": "running", "WAITING": "waiting"}


def plain(text: str) -> str:
    """``text`` as matplotlib shows it literally: a ``$`` in a name or a choice starts no
    mathematics."""
    return str(text).replace("$", r"\$")


def objective_label(objective: Objective) -> str:
    """An axis label for an objective: its metric and which way is better."""
    better = "higher" if objective.maximised else "lower"
    return plain(f"{objective.metric} ({better} is better)")


def value_colours(objective: Objective) -> Colormap:
    """The colour map of an objective's values: the better a value, the darker its colour."""
    from matplotlib import colormaps

    return colormaps["viridis_r" if objective.maximised else "viridis"]


def _last_reported(trial: Trial) -> float | None:
    return trial.intermediate[max(trial.intermediate)] if trial.intermediate else None


def _mark_unfinished(ax, trials: list[Trial]) -> None:
    """Failed and unfinished trials (and pruned ones without a value) as ticks on the x axis."""
    for state in ("PRUNED", "FAIL", "RUNNING", "WAITING"):
        numbers = [t.number for t in trials if t.state == state]
        if numbers:
            ax.plot(numbers, np.zeros(len(numbers)), linestyle="none", marker="|",
                    markersize=14, markeredgewidth=2, color=STATE_COLOURS[state],
                    transform=ax.get_xaxis_transform(), clip_on=False,
                    label=f"{STATE_WORDS[state]} (no value)")


def history_figure(study: StudyRecord) -> Figure:
    """Each trial's value against its number, with the best value so far (one panel per
    objective).

    Pruned trials are drawn at the last value they reported (an open marker: the value the
    pruner judged, not a finished one); failed, running and value-less trials are ticks on the
    trial axis.
    """
    complete = study.complete
    if not complete and not any(t.intermediate for t in study.trials):
        raise UserError("no trial has finished with a value yet")
    with _style():
        fig, axes = _figure(len(study.objectives), (6.6, 4.3))
        for k, (ax, objective) in enumerate(zip(axes, study.objectives, strict=True)):
            numbers = np.array([t.number for t in complete])
            values = np.array([t.values[k] for t in complete])
            if len(values):
                ax.scatter(numbers, values, s=24, color=STATE_COLOURS["COMPLETE"], zorder=3,
                           label=STATE_WORDS["COMPLETE"])
                running = (np.maximum if objective.maximised else np.minimum).accumulate(values)
                ax.step(numbers, running, where="post", color=BEST_COLOUR, linewidth=2,
                        label="best so far", zorder=2)
            unvalued = [t for t in study.trials if t.state != "COMPLETE" or t.values is None]
            if k == 0:  # what a trial reports per epoch is the first objective
                pruned = [t for t in unvalued if t.state == "PRUNED" and t.intermediate]
                if pruned:
                    ax.scatter([t.number for t in pruned], [_last_reported(t) for t in pruned],
                               s=30, marker="o", facecolors="none", zorder=3,
                               edgecolors=STATE_COLOURS["PRUNED"], linewidths=1.5,
                               label="pruned (last value reported)")
                unvalued = [t for t in unvalued if t not in pruned]
            _mark_unfinished(ax, unvalued)
            ax.set_xlabel("trial")
            ax.set_ylabel(objective_label(objective))
            ax.legend(loc="best", fontsize=9)
    return fig


def importances_figure(study: StudyRecord) -> Figure:
    """The parameters' importances of trials.json as horizontal bars, the largest on top."""
    if not study.importances:
        raise UserError("trials.json holds no importances yet (Optuna estimates them when a "
                        "worker or the study ends, from two or more complete trials of "
                        "different values)")
    order = sorted(study.importances, key=lambda name: study.importances[name])
    values = np.array([study.importances[name] for name in order])
    with _style():
        fig, (ax,) = _figure(1, (7.0, 0.9 + 0.42 * len(order)))
        bars = ax.barh(np.arange(len(order)), values, color=STATE_COLOURS["COMPLETE"], height=0.6)
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=3, fontsize=9)
        short = study.short_names
        ax.set_yticks(np.arange(len(order)), [plain(short.get(name, name)) for name in order])
        ax.tick_params(axis="y", which="both", left=False, right=False)
        ax.set_xlim(0, max(float(values.max()) * 1.18, 1e-12))
        ax.set_xlabel(plain(f"importance for {study.objectives[0].metric}"))
    return fig


def intermediate_figure(study: StudyRecord) -> Figure:
    """The validation value each trial reported per epoch: the curves the pruner judged.

    Complete trials are thin blue lines, pruned ones thicker orange lines ending in a cross at
    the epoch where they were stopped; failed and running trials are dashed.
    """
    reporting = [t for t in study.trials if t.intermediate]
    if not reporting:
        raise UserError("no trial reported a validation value per epoch (a method trained without "
                        "epochs)")
    with _style():
        fig, (ax,) = _figure(1, (7.6, 4.6))
        labelled: set[str] = set()
        for trial in sorted(reporting, key=lambda t: t.state == "PRUNED"):  # pruned on top
            epochs = np.array(list(trial.intermediate))
            values = np.array(list(trial.intermediate.values()))
            state = trial.state
            label = None if state in labelled else STATE_WORDS[state]
            labelled.add(state)
            if state == "PRUNED":
                ax.plot(epochs, values, color=STATE_COLOURS[state], linewidth=2.0, alpha=0.9,
                        label=label)
                ax.plot(epochs[-1:], values[-1:], linestyle="none", marker="x", markersize=8,
                        markeredgewidth=2, color=STATE_COLOURS[state])
            else:
                ax.plot(epochs, values, color=STATE_COLOURS[state], linewidth=1.2, alpha=0.7,
                        linestyle="-" if state == "COMPLETE" else "--", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {objective_label(study.objectives[0])}")
        ax.legend(loc="best", fontsize=9)
    return fig


def pareto_figure(study: StudyRecord) -> Figure:
    """The two objectives of every complete trial: the Pareto front (the best trials of
    trials.json) marked and joined, the other trials grey."""
    if len(study.objectives) != 2:
        raise UserError(f"a Pareto front needs two objectives, the study has "
                        f"{len(study.objectives)}")
    complete = study.complete
    if not complete:
        raise UserError("no trial has finished with a value yet")
    front = [t for t in complete if t.number in set(study.best)]
    rest = [t for t in complete if t.number not in set(study.best)]
    first, second = study.objectives
    with _style():
        fig, (ax,) = _figure(1, (6.6, 5.0))
        if rest:
            ax.scatter([t.values[0] for t in rest], [t.values[1] for t in rest], s=24,
                       color="#b0b0b0", label="other trials", zorder=2)
        if front:
            front.sort(key=lambda t: t.values[0])
            x = [t.values[0] for t in front]
            y = [t.values[1] for t in front]
            # the front's boundary: each step holds the best second value reachable at that first
            steps = "steps-pre" if first.maximised else "steps-post"
            ax.plot(x, y, drawstyle=steps, color=BEST_COLOUR, linewidth=1.2, alpha=0.7, zorder=3)
            ax.scatter(x, y, s=44, color=BEST_COLOUR, edgecolors="black", linewidths=0.6,
                       label="Pareto front", zorder=4)
            for trial in front:
                ax.annotate(f"#{trial.number}", (trial.values[0], trial.values[1]), fontsize=8,
                            xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel(objective_label(first))
        ax.set_ylabel(objective_label(second))
        ax.legend(loc="best", fontsize=9)
    return fig


__all__ = ["BEST_COLOUR", "STATE_COLOURS", "STATE_WORDS", "history_figure",
           "importances_figure", "intermediate_figure", "objective_label", "pareto_figure", "plain",
           "value_colours"]
