"""The report's figures of a ranking: the order of the scores against the order of the targets.

Each builder takes the run and the split the comparison figures use and returns HTML
blocks, like the builders of :mod:`quanta.report.html`, which registers them in its
``FIGURES`` by the names of :data:`ORDERING_FIGURES`:

- ``rank_scatter``: one panel per method, each sample at its target's normalised rank
  (x) and its score's (y); a perfect order is the diagonal, whatever the score's units;
- ``top_selection``: keep the fraction f of the samples with the highest scores: which
  fraction of them belongs to the f with the largest targets (the purity of a selection
  of "the largest particles"); a random order gives f, a perfect one 1.

Both treat the split as one list (the query groups of a grouped ranking are not saved with
the predictions) and do not use event weights; their captions say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quanta.errors import UserError
from quanta.evaluate.ordering import gains, ordering_metrics
from quanta.report.rundir import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the most samples one panel of the rank scatter draws (evenly spaced through the split)
SCATTER_POINTS = 2000
#: the selected fractions of the top-selection curve
FRACTIONS = np.linspace(0.01, 1.0, 100)


def _panels(count: int, size: float = 4.0):
    from matplotlib.figure import Figure

    columns = min(count, 3)
    rows = -(-count // columns)
    fig = Figure(figsize=(size * columns, size * rows * 0.95), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[count:]:
        unused.set_visible(False)
    return fig, list(axes[:count])


def _ordered(predictions: dict[str, tuple]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{method: (y, score)}`` as flat float arrays, for methods with one score per sample."""
    out = {}
    for name, (y, score, _weight) in predictions.items():
        y, score = np.asarray(y, dtype=np.float64), np.asarray(score, dtype=np.float64)
        if y.size == len(y) and score.size == len(score) and len(y) >= 2:
            out[name] = (y.reshape(-1), score.reshape(-1))
    if not out:
        raise UserError("no method saved one score per sample with its target: no order to draw")
    return out


def rank_scatter_figure(
    methods: dict[str, tuple[np.ndarray, np.ndarray]], colours: dict[str, str] | None = None
) -> Figure:
    """One panel per method: each sample's score rank against its target rank, both in [0, 1]."""
    fig, axes = _panels(len(methods))
    for ax, (name, (y, score)) in zip(axes, methods.items(), strict=True):
        keep = np.unique(np.linspace(0, len(y) - 1, min(SCATTER_POINTS, len(y))).astype(int))
        tau = ordering_metrics(y, score)["kendall_tau"]
        ax.plot(
            gains(y)[keep],
            gains(score)[keep],
            ".",
            markersize=3,
            alpha=0.5,
            color=(colours or {}).get(name, "#3f90da"),
        )
        ax.plot([0, 1], [0, 1], "--", color="0.3", linewidth=1.0)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("Rank of the target (normalised)")
        ax.set_ylabel("Rank of the score (normalised)")
        ax.set_title(
            f"{name}: τ = {tau:.3f}" if np.isfinite(tau) else name, loc="left", fontweight="bold"
        )
    return fig


def top_purity(y: np.ndarray, score: np.ndarray, fractions: np.ndarray = FRACTIONS) -> np.ndarray:
    """For each fraction f: the share of the ceil(f N) highest scores that are among the
    ceil(f N) largest targets."""
    n = len(y)
    target_place = np.empty(n, dtype=np.int64)
    target_place[np.argsort(-y, kind="stable")] = np.arange(n)  # 0: the largest target
    by_score = target_place[np.argsort(-score, kind="stable")]
    counts = np.maximum(1, np.ceil(fractions * n).astype(int))
    return np.array([np.count_nonzero(by_score[:k] < k) / k for k in counts])


def top_selection_figure(
    methods: dict[str, tuple[np.ndarray, np.ndarray]], colours: dict[str, str] | None = None
) -> Figure:
    """The purity of the top-f selection of every method against f, with the random order's f."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 4.4), layout="constrained")
    ax = fig.subplots()
    for name, (y, score) in methods.items():
        ax.plot(FRACTIONS, top_purity(y, score), label=name, color=(colours or {}).get(name))
    ax.plot(FRACTIONS, FRACTIONS, ":", color="0.5", label="random order")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Selected fraction f (highest scores)")
    ax.set_ylabel("Purity: share among the f largest targets")
    ax.legend(loc="lower right")
    return fig


_ONE_LIST = (
    " The split is one list (query groups are not saved with the predictions); event "
    "weights are not used."
)


def _rank_scatter_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.report.html import _colours, _figure_block, _predictions

    predictions = _predictions(run, split)
    if not predictions:
        return []
    return [
        _figure_block(
            f"Order of the scores against the order of the targets ({split} split)",
            "Each sample at the normalised rank of its target (x) and of its score (y), 0 for "
            "the smallest and 1 for the largest: a score that sorts the samples as their targets "
            "lies on the dashed diagonal, whatever its units; τ is Kendall's tau-b over the whole "
            "split. At "
            f"most {SCATTER_POINTS} samples per panel, evenly spaced through the split.{_ONE_LIST}",
            lambda: rank_scatter_figure(_ordered(predictions), _colours(run)),
        )
    ]


def _top_selection_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.report.html import _colours, _figure_block, _predictions

    predictions = _predictions(run, split)
    if not predictions:
        return []
    return [
        _figure_block(
            f"Selecting the top of the list ({split} split)",
            "Keep the fraction f of the samples with the highest scores: the curve is the share of "
            "them that belong to the fraction f with the largest targets (1: the selection is "
            "exactly the top of the true order); the dotted line is a random order, whose share is "
            f"f itself.{_ONE_LIST}",
            lambda: top_selection_figure(_ordered(predictions), _colours(run)),
        )
    ]


#: the builders of this module by the figure names tasks give them
ORDERING_FIGURES = {
    "rank_scatter": _rank_scatter_figures,
    "top_selection": _top_selection_figures,
}

__all__ = ["ORDERING_FIGURES", "rank_scatter_figure", "top_purity", "top_selection_figure"]
