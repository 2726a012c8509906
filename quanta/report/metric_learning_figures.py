"""The report's figures of a learned embedding (task ``metric_learning``).

Builders take the run and the split the comparison figures use and return HTML
blocks, registered in :data:`quanta.report.html.FIGURES` by the names of
:data:`METRIC_LEARNING_FIGURES`:

- ``embedding_projection``: every method's codes seen along their own two
  leading principal directions (on the split shown), one colour per label: of a
  16- or 32-dimensional embedding the first two codes show little, its two
  directions of largest spread show most;
- ``retrieval_precision``: precision at k against k (1 to :data:`K_MAX`) for
  every method, with the precision of a random embedding (the sum of the
  squared class fractions); needs labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quanta.errors import UserError
from quanta.report.embedding_figures import CLASS_COLOURS, _class_names, embedding_map_figure
from quanta.report.rundir import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the largest k of the retrieval curve
K_MAX = 50


def principal_projection(codes: np.ndarray) -> np.ndarray:
    """``[N, 2]``: the centred codes along their two directions of largest variance."""
    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    z = z - z.mean(axis=0)
    if z.shape[1] == 1:
        return np.concatenate([z, np.zeros_like(z)], axis=1)
    _, _, directions = np.linalg.svd(z, full_matrices=False)
    return z @ directions[:2].T


def _codes(run: RunRecord, split: str, need_labels: bool) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    found = {}
    for method in run.methods:
        predictions = method.predictions.get(split)
        if predictions is None or predictions.score.ndim != 2 or len(predictions.score) < 3:
            continue
        labels = None if predictions.y is None else np.asarray(predictions.y).reshape(-1)
        if need_labels and labels is None:
            continue
        found[method.name] = (np.asarray(predictions.score, dtype=np.float64), labels)
    return found


def _projection_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.report.html import _figure_block

    maps = {name: (principal_projection(codes), labels)
            for name, (codes, labels) in _codes(run, split, need_labels=False).items()}
    if not maps:
        return []

    def draw() -> Figure:
        fig = embedding_map_figure(maps, _class_names(run))
        for ax in fig.axes:
            if ax.get_visible() and ax.get_xlabel():
                ax.set_xlabel("principal direction 1 of the codes")
                ax.set_ylabel("principal direction 2 of the codes")
        return fig

    return [_figure_block(
        f"Embedding projection ({split} split)",
        "Each sample's embedding seen along the two directions in which the method's codes of "
        "this split spread most, one colour per label (an infonce embedding never saw the "
        "labels; triplet and siamese ones learned from those of the train split).",
        draw,
    )]


def retrieval_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> Figure:
    """Precision at k against k, one line per method, and the precision of a random embedding."""
    from matplotlib.figure import Figure

    if not curves:
        raise UserError("no method saved codes with labels: no retrieval precision to draw")
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (name, (k, precision, _)) in enumerate(curves.items()):
        ax.plot(k, precision, color=CLASS_COLOURS[i % len(CLASS_COLOURS)], label=name)
    chance = next(iter(curves.values()))[2]
    ax.axhline(chance, color="#717581", linestyle="--", label="random embedding")
    ax.set_xlabel("neighbours retrieved k")
    ax.set_ylabel("precision at k (same class)")
    ax.set_ylim(min(chance, *(float(c[1].min()) for c in curves.values())) - 0.05, 1.0)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _retrieval_figures(run: RunRecord, split: str) -> list[str]:
    from quanta.evaluate.metric_learning import RETRIEVAL_ROWS, retrieval_curve
    from quanta.report.html import _figure_block

    curves = {name: retrieval_curve(labels, codes, K_MAX)
              for name, (codes, labels) in _codes(run, split, need_labels=True).items()}
    if not curves:
        return []
    return [_figure_block(
        f"Retrieval precision ({split} split)",
        "The fraction of each sample's k nearest neighbours in the embedding (Euclidean) that "
        f"share its class, averaged over at most {RETRIEVAL_ROWS:,} samples evenly spaced "
        "through the split, against k; the dashed line is what a random embedding retrieves. "
        "Unweighted.",
        lambda: retrieval_figure(curves),
    )]


#: the builders by the names an evaluation lists in its figures
METRIC_LEARNING_FIGURES = {
    "embedding_projection": _projection_figures,
    "retrieval_precision": _retrieval_figures,
}

__all__ = ["METRIC_LEARNING_FIGURES", "principal_projection", "retrieval_figure"]
