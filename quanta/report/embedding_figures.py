"""The report's embedding figures: a 2D map of the samples' codes, and PCA's explained variance.

Each builder takes the run and the split the comparison figures use and returns HTML
blocks, like the builders of :mod:`quanta.report.html`, which registers them in its
``FIGURES`` by the names of :data:`EMBEDDING_FIGURES`:

- ``embedding_map``: for every method whose saved scores are codes of at least two
  columns, the first two codes of each sample of the split, one colour per label
  (``<split>_y`` of ``predictions.npz``); at most :data:`MAP_POINTS` samples, evenly spaced
  through the split, so that the page stays small;
- ``explained_variance``: for every method whose folder holds
  :data:`quanta.evaluate.embedding.EXPLAINED_VARIANCE_FILE` (PCA), the fraction of the
  inputs' variance each component explains, and their running sum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.report.rundir import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the most samples one panel of the map draws
MAP_POINTS = 5000
#: one colour per class, in order (more classes share a colour map)
CLASS_COLOURS = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300",
                 "#b9ac70", "#717581", "#92dadd")


def _panels(count: int, size: float = 4.2) -> tuple[Figure, list[Any]]:
    from matplotlib.figure import Figure

    columns = min(count, 3)
    rows = -(-count // columns)
    fig = Figure(figsize=(size * columns, size * rows * 0.9), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[count:]:
        unused.set_visible(False)
    return fig, list(axes[:count])


def embedding_map_figure(maps: dict[str, tuple[np.ndarray, np.ndarray | None]],
                         class_names: list[str] | None = None) -> Figure:
    """One panel per method: the first two codes of each sample, coloured by its label.

    ``maps`` holds, per method, the codes ``[N, k >= 2]`` and the labels ``[N]`` (or None).
    """
    if not maps:
        raise UserError("no method saved codes of two or more columns: nothing to map")
    fig, axes = _panels(len(maps))
    for ax, (name, (codes, labels)) in zip(axes, maps.items(), strict=True):
        keep = np.unique(np.linspace(0, len(codes) - 1, min(MAP_POINTS, len(codes))).astype(int))
        z = codes[keep]
        size = max(2.0, 12.0 - len(z) / 500)
        if labels is None:
            ax.scatter(z[:, 0], z[:, 1], s=size, color=CLASS_COLOURS[0], alpha=0.5, linewidths=0)
        else:
            y = labels[keep]
            classes = np.unique(y)
            for i, value in enumerate(classes):
                chosen = y == value
                named = (class_names[int(value)] if class_names is not None
                         and 0 <= int(value) < len(class_names) else str(value))
                colour = (CLASS_COLOURS[i] if len(classes) <= len(CLASS_COLOURS)
                          else _colour_map(i / max(len(classes) - 1, 1)))
                ax.scatter(z[chosen, 0], z[chosen, 1], s=size, color=colour, alpha=0.5,
                           linewidths=0, label=named)
            if len(classes) <= 12:
                ax.legend(markerscale=2.5, fontsize=8, frameon=False)
        ax.set_xlabel("code 1")
        ax.set_ylabel("code 2")
        ax.set_title(name, loc="left", fontweight="bold")
    return fig


def _colour_map(fraction: float) -> Any:
    from matplotlib import colormaps

    return colormaps["viridis"](fraction)


def explained_variance_figure(records: dict[str, dict[str, Any]]) -> Figure:
    """One panel per method: each component's fraction of the variance (bars) and their sum (line)."""
    if not records:
        raise UserError("no method recorded explained variance")
    fig, axes = _panels(len(records))
    for ax, (name, record) in zip(axes, records.items(), strict=True):
        ratio = np.asarray(record["ratio"], dtype=np.float64)
        component = np.arange(1, len(ratio) + 1)
        ax.bar(component, ratio, color=CLASS_COLOURS[0], label="component")
        ax.plot(component, np.cumsum(ratio), marker="o", color=CLASS_COLOURS[2],
                label="cumulative")
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel("principal component")
        ax.set_ylabel("fraction of the inputs' variance")
        ax.set_title(name, loc="left", fontweight="bold")
        ax.legend(fontsize=8, frameon=False)
        if len(component) <= 20:
            ax.set_xticks(component)
    return fig


def _class_names(run: RunRecord) -> list[str] | None:
    names = run.data.get("classes")
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


def _embedding_map_figures(run: RunRecord, split: str) -> list[str]:
    """The 2D map of the first two codes of every method that saved two or more."""
    from quanta.report.html import _figure_block

    maps = {}
    for method in run.methods:
        predictions = method.predictions.get(split)
        if predictions is None or predictions.score.ndim != 2 or predictions.score.shape[1] < 2:
            continue
        labels = None if predictions.y is None else np.asarray(predictions.y).reshape(-1)
        maps[method.name] = (np.asarray(predictions.score, dtype=np.float64), labels)
    if not maps:
        return []
    shown = max(len(codes) for codes, _ in maps.values())
    thinned = (f" At most {MAP_POINTS:,} samples are drawn, evenly spaced through the split."
               if shown > MAP_POINTS else "")
    return [_figure_block(
        f"Embedding map ({split} split)",
        "Each sample at its first two codes (for PCA, its coordinates along the first two "
        "principal components), one colour per label; the labels took no part in learning "
        f"the embedding.{thinned}",
        lambda: embedding_map_figure(maps, _class_names(run)),
    )]


def _explained_variance_figures(run: RunRecord, split: str | None) -> list[str]:
    """The explained variance of every method that recorded it (PCA), from its folder."""
    from quanta.evaluate.embedding import EXPLAINED_VARIANCE_FILE
    from quanta.report.html import _figure_block
    from quanta.rundir import METHOD_NAME, RunDirectory

    directory = RunDirectory(run.path, writer=False)
    records = {}
    for method in run.methods:
        if not METHOD_NAME.match(method.name):
            continue
        folder = directory.method(method.name)
        if (folder.path / EXPLAINED_VARIANCE_FILE).is_file():
            records[method.name] = folder.read_json(EXPLAINED_VARIANCE_FILE)
    if not records:
        return []
    return [_figure_block(
        "Explained variance",
        "The fraction of the total variance of what the method reduced on the training split "
        "(its inputs, standardised where it standardised them, or the codes of the network it "
        "read with codes_from) along each principal component kept (bars), and the fraction "
        "the first components explain together (line).",
        lambda: explained_variance_figure(records),
    )]


#: the builders by the names an evaluation lists in its figures
EMBEDDING_FIGURES = {
    "embedding_map": _embedding_map_figures,
    "explained_variance": _explained_variance_figures,
}

__all__ = ["EMBEDDING_FIGURES", "embedding_map_figure", "explained_variance_figure"]
