"""Figures of the training inputs per class, drawn from their binned summary (never from rows).

Each function takes parts of the record (``inputs.json``) written by
:func:`quanta.evaluate.input_summary.summarise_inputs` and returns a
:class:`matplotlib.figure.Figure`:

- :func:`input_variables_figure`: a grid of per-class normalised histograms, as TMVA overlays them
  (signal filled, background hatched; other classes as lines), the fraction of each class below
  and above the axis (under/overflow) printed in each panel;
- :func:`correlation_figure`: the linear correlation matrix of each class, in percent, with the
  numbers in the cells when there are at most :data:`NUMBERED` variables;
- :func:`target_correlation_figure`: each input's correlation with each regression target;
- :func:`weights_figure`: the event-weight distribution per class;
- :func:`mean_images_figure`: the mean image of each class, one panel per class and channel;
- :func:`multiplicity_figure`: the number of valid elements per event, per class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.errors import UserError
from quanta.evaluate.figures import (
    BACKGROUND_COLOUR,
    METHOD_COLOURS,
    SIGNAL_COLOUR,
    _figure,
    _style,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Correlation matrices with at most this many variables carry their numbers in the cells.
NUMBERED = 15
#: At most this many classes get their own correlation matrix or row of mean images.
GROUPS_SHOWN = 10


def _array(values: Any) -> np.ndarray:
    """A record's nested list (None for undefined) as floats (NaN for undefined)."""
    return np.array(values, dtype=object).astype(float) if values is not None else np.array([])


def _styles(groups: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """How each group is drawn: two classes as TMVA draws background and signal, else lines."""
    if len(groups) == 2:
        return [
            {"color": BACKGROUND_COLOUR, "hatch": "///", "fill": False},
            {"color": SIGNAL_COLOUR, "hatch": None, "fill": True},
        ]
    if len(groups) == 1:
        return [{"color": SIGNAL_COLOUR, "hatch": None, "fill": True}]
    return [
        {"color": METHOD_COLOURS[i % len(METHOD_COLOURS)], "hatch": None, "fill": False}
        for i in range(len(groups))
    ]


def _draw_histogram(
    ax: Axes,
    edges: np.ndarray,
    fractions: np.ndarray,
    style: dict[str, Any],
    label: str,
    density: bool,
) -> None:
    """One group's histogram: fraction per bin, divided by the bin width when ``density``."""
    heights = np.nan_to_num(fractions) / (np.diff(edges) if density else 1.0)
    if style["fill"]:
        ax.stairs(heights, edges, fill=True, color=style["color"], alpha=0.3, linewidth=0)
    elif style["hatch"]:
        ax.stairs(
            heights,
            edges,
            fill=True,
            facecolor="none",
            edgecolor=style["color"],
            hatch=style["hatch"],
            linewidth=0,
        )
    ax.stairs(heights, edges, color=style["color"], linewidth=1.3, label=label)


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def _flow_text(histogram: dict[str, Any], groups: Sequence[dict[str, Any]]) -> str | None:
    """``U/O-flow (S,B): (a, b)% / (c, d)%``, as TMVA prints it, when anything lies outside."""
    under, over = _array(histogram["underflow"]), _array(histogram["overflow"])
    if not (np.nansum(np.abs(under)) > 0 or np.nansum(np.abs(over)) > 0):
        return None
    if len(groups) == 2:  # signal first, as TMVA writes it
        return (
            f"U/O-flow (S,B): ({_percent(under[1])}, {_percent(under[0])})% / "
            f"({_percent(over[1])}, {_percent(over[0])})%"
        )
    if len(groups) == 1:
        return f"U/O-flow: {_percent(under[0])}% / {_percent(over[0])}%"
    return f"U/O-flow ≤ {_percent(np.nanmax(under))}% / {_percent(np.nanmax(over))}%"


def _group_label(group: dict[str, Any], count: int) -> str:
    if count == 2:
        return f"{group['name']} ({'signal' if group.get('label') == 1 else 'background'})"
    return str(group["name"])


@contextlib.contextmanager
def _plain_ticks() -> Iterator[None]:
    """No minor ticks: a grid of many small panels draws in a fraction of the time."""
    import matplotlib

    with matplotlib.rc_context({"xtick.minor.visible": False, "ytick.minor.visible": False}):
        yield


def _grid(
    n_panels: int, panel_size: tuple[float, float], max_columns: int, legend: bool
) -> tuple[Figure, list[Axes]]:
    """``n_panels`` axes on a grid with fixed margins (a constrained layout of 64 panels takes
    seconds), room at the top for a legend."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = max(1, min(n_panels, max_columns))
    rows = -(-n_panels // columns)
    width, height = panel_size[0] * columns, panel_size[1] * rows + (0.35 if legend else 0.0)
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.12 / width,
        bottom=0.5 / height,
        top=1 - (0.45 if legend else 0.12) / height,
        wspace=0.42,
        hspace=0.52,
    )
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[n_panels:]:
        unused.set_visible(False)
    for ax in axes[:n_panels]:
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    return fig, list(axes[:n_panels])


def input_variables_figure(
    histograms: Sequence[dict[str, Any]],
    groups: Sequence[dict[str, Any]],
    columns: int = 4,
    xlabel_prefix: str = "",
) -> Figure:
    """A grid of per-class normalised histograms, one panel per variable.

    Args:
        histograms: the record's ``features.histograms`` (or the per-element features, the
            targets): per variable ``name``, ``edges``, ``integer``, ``counts[group][bin]``
            (fractions of the group's weight), ``underflow[group]``, ``overflow[group]``.
        groups: the record's ``groups`` (``name``, ``label``).
        columns: panels per row.
        xlabel_prefix: put before each variable's name on its axis (e.g. ``"element "``).
    """
    if not histograms:
        raise UserError("no input variables to draw")
    styles = _styles(groups)
    many = len(histograms) > 16  # a smaller panel on a wider grid
    with _style(), _plain_ticks():
        fig, axes = _grid(
            len(histograms),
            (2.3, 1.85) if many else (3.0, 2.35),
            columns + 2 if many else columns,
            legend=len(groups) > 1,
        )
        for ax, histogram in zip(axes, histograms, strict=True):
            edges = _array(histogram["edges"])
            counts = _array(histogram["counts"])
            density = not histogram.get("integer")
            for g, group in enumerate(groups):
                _draw_histogram(
                    ax, edges, counts[g], styles[g], _group_label(group, len(groups)), density
                )
            ax.set_xlabel(f"{xlabel_prefix}{histogram['name']}", fontsize=10)
            ax.set_ylabel("(1/N) dN/dx" if density else "fraction", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.set_xlim(edges[0], edges[-1])
            top = np.nanmax(counts / (np.diff(edges) if density else 1.0)) if counts.size else 1.0
            ax.set_ylim(0, 1.25 * top if np.isfinite(top) and top > 0 else 1.0)
            flow = _flow_text(histogram, groups)
            if flow:
                ax.text(
                    0.02, 0.97, flow, transform=ax.transAxes, fontsize=6.5, va="top", color="#555"
                )
        if len(groups) > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper center", ncols=min(len(groups), 6), fontsize=9)
    return fig


def correlation_figure(correlation: dict[str, Any], groups: Sequence[dict[str, Any]]) -> Figure:
    """The linear correlation coefficients (in %) of the inputs, one matrix per class.

    ``correlation`` is the record's ``correlation``: ``names`` and ``matrices[group]``;
    undefined entries (a constant variable) are left blank.
    """
    names = list(correlation["names"])
    matrices = [_array(m) for m in correlation["matrices"]][:GROUPS_SHOWN]
    if not names or not matrices:
        raise UserError("no correlations to draw")
    k = len(names)
    side = max(3.2, 0.42 * k + 1.8) if k <= NUMBERED else 6.0
    with _style():
        fig, axes = _figure(
            len(matrices), (side + 0.9, side), max_columns=2 if 8 < k <= NUMBERED else 3
        )
        for ax, matrix, group in zip(axes, matrices, groups, strict=False):
            image = ax.imshow(
                100 * matrix, cmap="RdBu_r", vmin=-100, vmax=100, interpolation="nearest"
            )
            ax.set_title(f"Correlation matrix ({group['name']})", fontsize=11)
            ticks = np.arange(k)
            fontsize = 8 if k <= 20 else max(4.0, 8 - 0.07 * k)
            ax.set_xticks(ticks, names, rotation=90, fontsize=fontsize)
            ax.set_yticks(ticks, names, fontsize=fontsize)
            ax.minorticks_off()
            ax.tick_params(top=False, right=False)
            if k <= NUMBERED:
                for i in range(k):
                    for j in range(k):
                        if np.isfinite(matrix[i, j]):
                            value = 100 * matrix[i, j]
                            ax.text(
                                j,
                                i,
                                f"{value:.0f}",
                                ha="center",
                                va="center",
                                fontsize=7,
                                color="white" if abs(value) > 60 else "black",
                            )
            fig.colorbar(image, ax=ax, shrink=0.8, label="linear correlation [%]")
    return fig


def target_correlation_figure(record: dict[str, Any]) -> Figure:
    """Each input's linear correlation with each regression target, as horizontal bars."""
    names, targets = list(record["names"]), list(record["targets"])
    values = _array(record["values"])
    if not names:
        raise UserError("no inputs to correlate with the target")
    with _style():
        fig, (ax,) = _figure(1, (6.0, max(2.2, 0.28 * len(names) * len(targets) + 1.0)))
        height = 0.8 / len(targets)
        positions = np.arange(len(names))
        for t, target in enumerate(targets):
            ax.barh(
                positions + (t - (len(targets) - 1) / 2) * height,
                np.nan_to_num(values[t]),
                height=height,
                color=METHOD_COLOURS[t % len(METHOD_COLOURS)],
                label=target,
            )
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(positions, names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(-1.0, 1.0)
        ax.set_xlabel("linear correlation with the target")
        if len(targets) > 1:
            ax.legend(loc="lower right")
    return fig


def weights_figure(weights: dict[str, Any], groups: Sequence[dict[str, Any]]) -> Figure:
    """The event-weight distribution of each class (events counted once, normalised), log y."""
    edges, counts = _array(weights["edges"]), _array(weights["counts"])
    styles = _styles(groups)
    with _style():
        fig, (ax,) = _figure(1, (6.0, 3.6))
        for g, group in enumerate(groups):
            _draw_histogram(
                ax, edges, counts[g], styles[g], _group_label(group, len(groups)), density=False
            )
        ax.set_xlabel("event weight")
        ax.set_ylabel("fraction of events")
        positive = counts[np.isfinite(counts) & (counts > 0)]
        if positive.size:
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 2, positive.max() * 3)
        ax.set_xlim(edges[0], edges[-1])
        flow = _flow_text(weights, groups)
        if flow:
            ax.text(0.02, 0.97, flow, transform=ax.transAxes, fontsize=8, va="top", color="#555")
        ax.legend(loc="upper right")
    return fig


def _image_norm(values: np.ndarray):
    """A linear colour scale, or a logarithmic one (four decades) for a non-negative image whose
    brightest pixel outshines its typical lit pixel a hundredfold (a jet image, a shower)."""
    from matplotlib.colors import LogNorm, Normalize

    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Normalize(0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    lit = finite[finite > 0]
    if low >= 0 and lit.size and high > 100 * float(np.median(lit)):
        return LogNorm(vmin=max(high * 1e-4, float(lit.min())), vmax=high, clip=True)
    return Normalize(low, high if high > low else low + 1.0)


def mean_images_figure(images: dict[str, Any], groups: Sequence[dict[str, Any]]) -> Figure:
    """The mean image of each class (rows) and channel (columns), one colour scale per channel
    (logarithmic for a sparse, peaked image such as a jet image)."""
    means = [_array(m) for m in images["mean"]][:GROUPS_SHOWN]  # [group][channel, row, column]
    if not means:
        raise UserError("no mean images to draw")
    channels = means[0].shape[0]
    with _style():
        fig, axes = _figure(
            len(means) * channels, (2.6, 2.4), max_columns=max(channels, min(5, len(means)))
        )
        for c in range(channels):
            norm = _image_norm(np.stack([m[c] for m in means]))
            for g, mean in enumerate(means):
                ax = axes[g * channels + c] if channels > 1 else axes[g]
                shown = ax.imshow(mean[c], cmap="viridis", norm=norm, interpolation="nearest")
                title = str(groups[g]["name"]) + (f", channel {c}" if channels > 1 else "")
                ax.set_title(title, fontsize=10)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.minorticks_off()
            fig.colorbar(
                shown,
                ax=[axes[g * channels + c] if channels > 1 else axes[g] for g in range(len(means))],
                shrink=0.8,
            )
    return fig


def multiplicity_figure(multiplicity: dict[str, Any], groups: Sequence[dict[str, Any]]) -> Figure:
    """The number of valid elements per event (``mask.sum``), per class, normalised."""
    edges, counts = _array(multiplicity["edges"]), _array(multiplicity["counts"])
    used = np.nonzero(np.nansum(np.abs(counts), axis=0) > 0)[0]
    low, high = (edges[used[0]], edges[used[-1] + 1]) if used.size else (edges[0], edges[-1])
    means = _array(multiplicity.get("mean"))
    styles = _styles(groups)
    with _style():
        fig, (ax,) = _figure(1, (6.0, 3.6))
        for g, group in enumerate(groups):
            label = _group_label(group, len(groups))
            if means.size and np.isfinite(means[g]):
                label += f", mean {means[g]:.1f}"
            _draw_histogram(ax, edges, counts[g], styles[g], label, density=False)
        ax.set_xlim(low, high)
        ax.set_xlabel("multiplicity (valid elements per event)")
        ax.set_ylabel("fraction of events")
        ax.legend(loc="upper right")
    return fig


__all__ = [
    "correlation_figure",
    "input_variables_figure",
    "mean_images_figure",
    "multiplicity_figure",
    "target_correlation_figure",
    "weights_figure",
]
