"""Figures that compare methods, in the style of a particle-physics paper.

Each function takes predictions (or training histories) keyed by method
name, draws every method into one figure so that they can be compared at a
glance, and returns a :class:`matplotlib.figure.Figure`. Figures are built
with the object-oriented API (no ``pyplot`` state, no GUI backend), so they
work in scripts, on clusters without a display, and in notebooks, and they
can be saved with ``fig.savefig("roc.pdf")``.

matplotlib is imported when the first figure is drawn, not when this module
is imported.

Predictions are passed as tuples ``(y, score)`` or ``(y, score, weight)``
with the shapes of :mod:`quanta.evaluate.binary`,
:mod:`~quanta.evaluate.multiclass` and :mod:`~quanta.evaluate.regression`;
calibration and coverage figures are in :mod:`quanta.evaluate.calibration_figures`,
the decision tree in :mod:`quanta.evaluate.tree_figure`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate import binary, regression

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: One method's predictions on one split: ``(y, score)`` or ``(y, score, weight)``.
Predictions = Sequence[Any]

#: Colour-blind-safe colours (Okabe & Ito), one per method, in order.
METHOD_COLOURS = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999",
)
SIGNAL_COLOUR = "#1f5fa8"
BACKGROUND_COLOUR = "#c8312b"

_STYLE = {
    "font.size": 11,
    "axes.labelsize": 12,
    "axes.titlesize": 12,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "axes.grid": False,
    "lines.linewidth": 1.8,
}


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """Apply the HEP look (inward ticks on all four sides, minor ticks, no legend frame)."""
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        yield


def _figure(n_panels: int, panel_size: tuple[float, float], max_columns: int = 2) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes on a grid of at most ``max_columns`` columns."""
    from matplotlib.figure import Figure

    columns = max(1, min(n_panels, max_columns))
    rows = -(-n_panels // columns)
    fig = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for unused in axes[n_panels:]:
        unused.set_visible(False)
    return fig, list(axes[:n_panels])


def _unpack(name: str, predictions: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if len(predictions) not in (2, 3):
        raise UserError(f"{name}: expected (y, score) or (y, score, weight), received {len(predictions)} items")
    y, score = np.asarray(predictions[0]), np.asarray(predictions[1])
    weight = None if len(predictions) == 2 or predictions[2] is None else np.asarray(predictions[2])
    return y, score, weight


def method_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per method, in order. Pass the result as ``colours=`` to every figure of a
    report so that a method keeps its colour from figure to figure."""
    return {name: METHOD_COLOURS[i % len(METHOD_COLOURS)] for i, name in enumerate(names)}


def _colour_map(names: Sequence[str], colours: Mapping[str, str] | None) -> dict[str, str]:
    """``colours`` completed for every name; methods without a colour get the next free one."""
    chosen = dict(colours or {})
    spare = [c for c in METHOD_COLOURS if c not in chosen.values()] or list(METHOD_COLOURS)
    for name in names:
        if name not in chosen:
            chosen[name] = spare[len(chosen) % len(spare)]
    return chosen


def _require(methods: Mapping[str, Any], what: str) -> None:
    if not methods:
        raise UserError(f"{what}: no methods to draw")


def _thin(eff_s: np.ndarray, eff_b: np.ndarray, points: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """At most ~``points`` ROC points, evenly spread in signal efficiency (a million-event
    ROC has a million points, far more than a figure can show)."""
    if eff_s.size <= points:
        return eff_s, eff_b
    keep = np.unique(np.searchsorted(eff_s, np.linspace(0.0, 1.0, points)).clip(0, eff_s.size - 1))
    return eff_s[keep], eff_b[keep]


def _background_events(y: np.ndarray, weight: np.ndarray | None) -> float:
    """The effective number of background events (label 0) that a background efficiency is
    measured on."""
    background = np.asarray(y) == 0
    w = np.ones(int(np.count_nonzero(background))) if weight is None else \
        np.asarray(weight, dtype=np.float64)[background]
    return binary.effective_events(w)


def rejection_band(eff_b: np.ndarray, background_events: float) -> tuple[np.ndarray, np.ndarray]:
    """The ±1σ band of the rejection ``1/eps_B`` along a ROC curve: ``1/(eps_B ± sigma)``
    with the binomial ``sigma = sqrt(eps_B (1 - eps_B) / N)`` of ``N`` (effective) background
    events. Where ``eps_B - sigma`` reaches 0 the upper edge is unbounded (``inf``: drawn to
    the top of the axes)."""
    eps = np.asarray(eff_b, dtype=np.float64)
    sigma = binary.efficiency_error(eps, background_events)
    upper = np.full(eps.shape, np.inf)
    bounded = eps - sigma > 0
    upper[bounded] = 1.0 / (eps[bounded] - sigma[bounded])
    return 1.0 / (eps + sigma), upper


def roc_figure(
    methods: Mapping[str, Predictions],
    working_points: Sequence[float] = binary.WORKING_POINTS,
    title: str | None = None,
    colours: Mapping[str, str] | None = None,
) -> Figure:
    """Background rejection ``1/eps_B`` (log scale) against signal efficiency, one line per method.

    The legend gives each method's AUC; a shaded band along each curve is
    its ±1σ statistical uncertainty (binomial on ``eps_B``, see
    :func:`rejection_band`); the working points (default
    ``eps_S`` = 0.3 and 0.5) are marked by dotted vertical lines and a marker
    on every curve. The grey dashed line is a random classifier
    (``1/eps_B = 1/eps_S``).

    Args:
        methods: ``{name: (y, score[, weight])}``, binary labels and scores.
        working_points: signal efficiencies to mark.
        title: optional axes title (e.g. "test split").
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
    """
    _require(methods, "ROC figure")
    colour = _colour_map(list(methods), colours)
    with _style():
        fig, (ax,) = _figure(1, (7.0, 5.0))
        highest = 1.0
        for name, predictions in methods.items():
            y, score, weight = _unpack(name, predictions)
            eff_s, eff_b, _ = binary.roc_curve(y, score, weight)
            area = binary.area_under(eff_b, eff_s)
            shown_s, shown_b = _thin(eff_s, eff_b)
            passing = shown_b > 0
            rejection = 1.0 / shown_b[passing]
            if rejection.size:
                highest = max(highest, float(rejection[shown_s[passing] >= 0.05].max(initial=1.0)))
            ax.plot(shown_s[passing], rejection, color=colour[name], label=f"{name}  (AUC = {area:.4f})")
            low, high = rejection_band(shown_b[passing], _background_events(y, weight))
            # an unbounded edge is drawn past the top of the axes (set below)
            ax.fill_between(shown_s[passing], low, np.minimum(high, 1e15), color=colour[name],
                            alpha=0.25,
                            linewidth=0)
            for point in working_points:
                eps_b = binary.efficiency_at(eff_s, eff_b, point)
                if eps_b > 0:
                    ax.plot(point, 1.0 / eps_b, "o", color=colour[name], markersize=5, zorder=3)
        grid = np.linspace(0.01, 1.0, 200)
        ax.plot(grid, 1.0 / grid, "--", color="0.55", linewidth=1.2, label="random")
        for point in working_points:
            ax.axvline(point, color="0.6", linestyle=":", linewidth=1.0, zorder=0)
            ax.annotate(
                f"$\\varepsilon_S$ = {point:g}", (point, 1.0), xytext=(3, 4),
                textcoords="offset points", fontsize=9, color="0.4",
                xycoords=("data", "axes fraction"), va="bottom",
            )
        ax.set_yscale("log")
        ax.set_xlim(0.0, 1.0)
        # headroom above the curves keeps the legend off them, however many methods there are
        ax.set_ylim(1.0, highest * (2.0 if len(methods) <= 2 else 4.0 ** ((len(methods) + 1) // 2)))
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
        ax.grid(True, which="major", color="0.92", linewidth=0.8)
        ax.legend(loc="upper right", ncol=2 if len(methods) > 3 else 1, fontsize=9)
        if title:
            ax.set_title(title, loc="left")
    return fig


def _histogram(values: np.ndarray, weight: np.ndarray | None, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-area histogram and its statistical uncertainty (``sqrt(sum w^2)``, same scale)."""
    w = np.ones_like(values) if weight is None else weight
    counts, _ = np.histogram(values, edges, weights=w)
    sum_w2, _ = np.histogram(values, edges, weights=w**2)
    area = np.sum(counts * np.diff(edges))
    scale = 1.0 / area if area > 0 else 0.0
    return counts * scale, np.sqrt(sum_w2) * scale


def score_distributions_figure(
    methods: Mapping[str, tuple[Predictions, Predictions]], bins: int = 40, log: bool = False
) -> Figure:
    """The TMVA overtraining plot: train and test score distributions per class, per method.

    One panel per method. Training events are filled histograms (signal blue,
    background red, hatched), test events are points with statistical error
    bars; all are normalised to unit area and weighted by the event weights
    when there are any. The legend gives the Kolmogorov-Smirnov p-value
    between train and test for each class
    (:func:`quanta.evaluate.binary.overtraining_ks`, weighted likewise): a
    small p-value (below ~0.01) means the method behaves differently on events
    it has seen. With ``log=True`` the y-axis is logarithmic, so that the
    tails, where a cut is placed, are visible; empty bins are then not drawn.

    Args:
        methods: ``{name: ((y, score[, weight]) for train, (y, score[, weight]) for test)}``.
        bins: number of equal-width bins spanning all of a method's scores.
        log: a logarithmic y-axis.
    """
    _require(methods, "score distribution figure")
    with _style():
        fig, axes = _figure(len(methods), (6.0, 4.4))
        for ax, (name, (train, test)) in zip(axes, methods.items(), strict=True):
            train_y, train_s, train_w = _unpack(f"{name} train", train)
            test_y, test_s, test_w = _unpack(f"{name} test", test)
            p_values = binary.overtraining_ks(train_y, train_s, test_y, test_s, train_w, test_w)
            low = float(min(train_s.min(), test_s.min()))
            high = float(max(train_s.max(), test_s.max()))
            if low >= 0.0 and high <= 1.0:  # probabilities: show the whole range
                low, high = 0.0, 1.0
            elif high <= low:
                high = low + 1.0
            edges = np.linspace(low, high, bins + 1)
            centres = 0.5 * (edges[1:] + edges[:-1])
            lowest, highest = np.inf, 0.0
            for label, cls, colour, hatch in (
                ("Signal", 1, SIGNAL_COLOUR, None),
                ("Background", 0, BACKGROUND_COLOUR, "////"),
            ):
                is_train, is_test = train_y == cls, test_y == cls
                density, _ = _histogram(
                    train_s[is_train], None if train_w is None else train_w[is_train], edges
                )
                ax.stairs(density, edges, fill=True, color=colour, alpha=0.25, hatch=hatch,
                          edgecolor=colour, label=f"{label} (train)")
                ax.stairs(density, edges, color=colour, linewidth=1.2)
                lowest = min(lowest, float(density[density > 0].min(initial=np.inf)))
                highest = max(highest, float(density.max(initial=0.0)))
                density, error = _histogram(
                    test_s[is_test], None if test_w is None else test_w[is_test], edges
                )
                shown = density > 0 if log else np.ones(density.shape, dtype=bool)
                key = "signal" if cls == 1 else "background"
                ax.errorbar(centres[shown], density[shown], yerr=error[shown], fmt="o",
                            color=colour, markersize=3.5, elinewidth=1.0,
                            label=f"{label} (test), KS p = {p_values[key]:.3g}")
                lowest = min(lowest, float(density[density > 0].min(initial=np.inf)))
                highest = max(highest, float(density.max(initial=0.0)))
            ax.set_xlim(low, high)
            if log and highest > 0:  # decades of room for the legend above the peaks
                bottom = 0.5 * lowest if np.isfinite(lowest) else highest * 1e-4
                ax.set_yscale("log")
                ax.set_ylim(bottom, highest * (highest / bottom) ** 0.6)
            else:
                ax.set_ylim(0.0, ax.get_ylim()[1] * 1.45)  # room for the legend above the peaks
            ax.set_xlabel(f"{name} score")
            ax.set_ylabel("Normalised events / bin width")
            ax.set_title(f"{name} (log scale)" if log else name, loc="left", fontweight="bold")
            ax.legend(loc="upper center", ncol=2, fontsize=9, columnspacing=1.0)
    return fig


#: one colour per class in the one-vs-rest ROC figure (up to ten distinct, then they repeat)
_CLASS_COLOURS = "tab10"


def one_vs_rest_roc_figure(
    methods: Mapping[str, Predictions],
    class_names: Sequence[str] | None = None,
    working_points: Sequence[float] = binary.WORKING_POINTS,
) -> Figure:
    """One-vs-rest ROC curves of a multiclass classifier: one panel per method, one line per class.

    Class ``k`` is the signal and every other class the background, with the
    score of column ``k`` as the discriminant
    (:func:`quanta.evaluate.multiclass.one_vs_rest_roc`); the curve is drawn as
    the background rejection ``1/eps_B`` (log scale) against the signal
    efficiency, as :func:`roc_figure` draws a binary one, and weighted by the
    event weights when there are any. The legend gives each class's AUC.

    Args:
        methods: ``{name: (y, scores[, weight])}``, int[N] labels and float[N, K] scores.
        class_names: optional K names of the classes (else ``0 .. K-1``).
        working_points: signal efficiencies marked by dotted lines.
    """
    from matplotlib import colormaps

    from quanta.evaluate import multiclass

    _require(methods, "one-vs-rest ROC figure")
    palette = colormaps[_CLASS_COLOURS]
    with _style():
        fig, axes = _figure(len(methods), (6.4, 4.8))
        for ax, (name, predictions) in zip(axes, methods.items(), strict=True):
            y, scores, weight = _unpack(name, predictions)
            curves = multiclass.one_vs_rest_roc(y, scores, weight)
            if not curves:
                raise UserError(f"{name}: no class has both its own and other events "
                                "for a ROC curve")
            k = np.shape(scores)[1]
            names = (list(class_names) if class_names is not None and len(class_names) == k
                     else [str(i) for i in range(k)])
            highest = 1.0
            for cls, (eff_s, eff_b) in curves.items():
                shown_s, shown_b = _thin(eff_s, eff_b)
                passing = shown_b > 0
                rejection = 1.0 / shown_b[passing]
                highest = max(highest, float(rejection[shown_s[passing] >= 0.05].max(initial=1.0)))
                area = binary.area_under(eff_b, eff_s)
                ax.plot(shown_s[passing], rejection, color=palette(cls % palette.N),
                        linewidth=1.5, label=f"{names[cls]} (AUC = {area:.4f})")
            grid = np.linspace(0.01, 1.0, 200)
            ax.plot(grid, 1.0 / grid, "--", color="0.55", linewidth=1.1, label="random")
            for point in working_points:
                ax.axvline(point, color="0.6", linestyle=":", linewidth=1.0, zorder=0)
            ax.set_yscale("log")
            ax.set_xlim(0.0, 1.0)
            rows = -(-(len(curves) + 1) // 2)
            ax.set_ylim(1.0, highest * 2.0 ** (1 + rows))  # headroom for the legend
            ax.set_xlabel(r"Signal efficiency $\varepsilon_S$ (class vs rest)")
            ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
            ax.set_title(name, loc="left", fontweight="bold")
            ax.grid(True, which="major", color="0.92", linewidth=0.8)
            ax.legend(loc="upper right", ncol=2, fontsize=8, columnspacing=0.8)
    return fig


def resolution_figure(
    methods: Mapping[str, Predictions],
    bins: int = 10,
    target_names: Sequence[str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> Figure:
    """Resolution and bias of a regression in bins of the true value, every method overlaid.

    One column per target; the upper panel shows the resolution in each bin of
    the true value, as the standard deviation of the residuals (open markers,
    dashed) and as half their 16-84 % interquantile range (filled markers,
    solid), the lower panel the bias, the median residual; every point has its
    statistical error bar (:func:`quanta.evaluate.regression.binned_resolution`,
    equal-population bins, weighted by the event weights when there are any).

    Args:
        methods: ``{name: (y, prediction[, weight])}``, float[N] or float[N, T].
        bins: the number of bins of the true value.
        target_names: optional T names of the targets (else ``target 0 .. T-1``).
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
    """
    _require(methods, "resolution figure")
    colour = _colour_map(list(methods), colours)
    unpacked = {name: _unpack(name, predictions) for name, predictions in methods.items()}
    targets = max(int(np.asarray(y).reshape(len(y), -1).shape[1]) for y, _, _ in unpacked.values())
    names = (list(target_names) if target_names is not None and len(target_names) == targets
             else ([None] if targets == 1 else [f"target {j}" for j in range(targets)]))
    from matplotlib.figure import Figure

    with _style():
        columns = min(targets, 3)
        rows = -(-targets // columns)
        fig = Figure(figsize=(5.8 * columns, 6.4 * rows), layout="constrained")
        grid = fig.add_gridspec(2 * rows, columns, height_ratios=[1.6, 1.0] * rows)
        for j in range(targets):
            row, column = divmod(j, columns)
            top = fig.add_subplot(grid[2 * row, column])
            bottom = fig.add_subplot(grid[2 * row + 1, column], sharex=top)
            for name, (y, prediction, weight) in unpacked.items():
                if np.asarray(y).reshape(len(y), -1).shape[1] <= j:
                    continue
                binned = regression.binned_resolution(y, prediction, weight, bins, target=j)
                x = binned.centres
                top.errorbar(x, binned.sigma_68, yerr=binned.sigma_68_error, fmt="o-",
                             color=colour[name], markersize=4, linewidth=1.4, capsize=2,
                             label=f"{name}: $\\sigma_{{68}}$")
                top.errorbar(x, binned.sigma, yerr=binned.sigma_error, fmt="o--",
                             color=colour[name], markersize=4, markerfacecolor="white",
                             linewidth=1.1, capsize=2, label=f"{name}: $\\sigma$")
                bottom.errorbar(x, binned.bias, yerr=binned.bias_error, fmt="o-",
                                color=colour[name], markersize=4, linewidth=1.4, capsize=2,
                                label=name)
            bottom.axhline(0.0, color="0.5", linestyle=":", linewidth=1.0)
            quantity = names[j] or "value"
            top.set_ylabel("Resolution (predicted $-$ true)")
            top.set_ylim(0.0, top.get_ylim()[1] * 1.35)  # room for the legend
            top.legend(loc="upper left", ncol=2, fontsize=8)
            top.tick_params(labelbottom=False)
            if names[j]:
                top.set_title(names[j], loc="left", fontweight="bold")
            bottom.set_ylabel("Bias (median)")
            bottom.set_xlabel(f"True {quantity}")
            for ax in (top, bottom):
                ax.grid(True, color="0.92", linewidth=0.8)
    return fig


def _validation_metric(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> str | None:
    """The validation metric to plot beside the loss: ``valid_auc`` if present, else the
    first ``valid_*`` key other than the loss."""
    keys: list[str] = []
    for records in histories.values():
        for record in records:
            keys.extend(k for k in record if k.startswith("valid_") and k != "valid_loss" and k not in keys)
    for preferred in ("valid_auc", "valid_accuracy", "valid_auc_macro", "valid_r2"):
        if preferred in keys:
            return preferred
    return keys[0] if keys else None


_METRIC_NAMES = {"auc": "AUC", "accuracy": "Accuracy", "auc_macro": "AUC (macro)", "r2": "$R^2$",
                 "mse": "MSE", "rmse": "RMSE", "mae": "MAE"}


def _metric_name(key: str) -> str:
    """``valid_auc`` -> ``AUC``: the readable name of a history metric."""
    bare = key.removeprefix("valid_")
    return _METRIC_NAMES.get(bare, bare.replace("_", " "))


def _series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values)`` of one history key, skipping epochs that lack it."""
    epochs, values = [], []
    for i, record in enumerate(records):
        value = record.get(key)
        if isinstance(value, (int, float)) and np.isfinite(value):
            epochs.append(record.get("epoch", i + 1))
            values.append(float(value))
    return np.asarray(epochs), np.asarray(values)


def loss_curves_figure(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str | None = None,
    colours: Mapping[str, str] | None = None,
) -> Figure:
    """Training (solid) and validation (dashed) loss per epoch for every network method.

    A second panel shows a validation metric when the histories have one
    (``metric``, default ``valid_auc`` or the first other ``valid_*`` key).
    Each method keeps its colour in both panels. A validation loss that rises
    while the training loss keeps falling is the classic sign of overfitting.

    Args:
        histories: ``{name: [{"epoch": 1, "train_loss": ..., "valid_loss": ..., ...}, ...]}``,
            one record per epoch as in a run directory's ``history.jsonl``.
        metric: the history key for the second panel.
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
    """
    _require(histories, "loss curve figure")
    metric = metric or _validation_metric(histories)
    colour = _colour_map(list(histories), colours)
    with _style():
        fig, axes = _figure(2 if metric else 1, (5.6, 4.2))
        loss_ax = axes[0]
        for name, records in histories.items():
            for key, style, label in (("train_loss", "-", "train"), ("valid_loss", "--", "valid")):
                epochs, values = _series(records, key)
                if values.size:
                    loss_ax.plot(epochs, values, style, color=colour[name], label=f"{name} ({label})",
                                 marker="o" if values.size < 3 else None, markersize=4)
            if metric:
                epochs, values = _series(records, metric)
                if values.size:
                    axes[1].plot(epochs, values, "-", color=colour[name], label=name,
                                 marker="o" if values.size < 3 else None, markersize=4)
        loss_ax.set_xlabel("Epoch")
        loss_ax.set_ylabel("Loss")
        loss_ax.set_title("Loss", loc="left")
        loss_ax.legend(loc="best")
        if metric:
            axes[1].set_xlabel("Epoch")
            axes[1].set_ylabel(f"Validation {_metric_name(metric)}")
            axes[1].set_title("Validation metric", loc="left")
            axes[1].legend(loc="best")
        for ax in axes:
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(True, color="0.92", linewidth=0.8)
    return fig


def confusion_matrix_figure(
    matrices: Mapping[str, ArrayLike], class_names: Sequence[str] | None = None
) -> Figure:
    """Row-normalised confusion matrices as heat maps, one panel per method.

    Cell ``(true i, predicted j)`` shows the fraction of class-``i`` events
    classified as ``j``; the diagonal holds the per-class efficiencies. Use
    :func:`quanta.evaluate.multiclass.confusion_matrix` to compute them.
    """
    _require(matrices, "confusion matrix figure")
    with _style():
        size = max(3.6, 0.55 * max(np.shape(m)[0] for m in matrices.values()) + 1.6)
        fig, axes = _figure(len(matrices), (size + 0.4, size), max_columns=3)
        image = None
        for ax, (name, matrix) in zip(axes, matrices.items(), strict=True):
            m = np.asarray(matrix, dtype=np.float64)
            k = m.shape[0]
            names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
            image = ax.imshow(m, cmap="Blues", vmin=0.0, vmax=1.0, origin="upper")
            if k <= 12:
                for i in range(k):
                    for j in range(k):
                        ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=9,
                                color="white" if m[i, j] > 0.55 else "0.15")
            ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0)
            ax.set_yticks(range(k), names)
            ax.minorticks_off()
            ax.tick_params(top=False, right=False, direction="out")
            ax.set_xlabel("Predicted class")
            ax.set_ylabel("True class")
            ax.set_title(name, loc="left", fontweight="bold")
        if image is not None:
            fig.colorbar(image, ax=axes, shrink=0.85, label="Fraction of true class")
    return fig


def predicted_vs_true_figure(
    methods: Mapping[str, Predictions], target: int = 0, colours: Mapping[str, str] | None = None
) -> Figure:
    """Prediction against truth, one panel per method, with the diagonal ``y = x``.

    Many events are drawn as a 2D histogram of weighted counts (logarithmic
    colour scale), a few (at most 2000) as points, which do not show their
    weights. With several targets, ``target`` selects the column.
    """
    from matplotlib.colors import LogNorm

    _require(methods, "predicted-vs-true figure")
    colour = _colour_map(list(methods), colours)
    with _style():
        fig, axes = _figure(len(methods), (5.2, 4.3), max_columns=3)
        for ax, (name, predictions) in zip(axes, methods.items(), strict=True):
            y, prediction, weight = _unpack(name, predictions)
            t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, target]
            p = np.asarray(prediction, dtype=np.float64).reshape(len(prediction), -1)[:, target]
            low, high = np.percentile(np.r_[t, p], [0.5, 99.5])
            span = (high - low) or 1.0
            low, high = low - 0.05 * span, high + 0.05 * span
            if t.size > 2000:  # weighted counts; a bin whose weights sum to <= 0 stays blank
                counts, x_edges, y_edges = np.histogram2d(
                    t, p, bins=60, range=[[low, high], [low, high]], weights=weight)
                counts = np.where(counts > 0, counts, np.nan)
                image = ax.pcolormesh(x_edges, y_edges, counts.T, norm=LogNorm(), cmap="viridis")
                fig.colorbar(image, ax=ax, label="Events" if weight is None else "Weighted events",
                             pad=0.02, fraction=0.06)
            else:
                ax.plot(t, p, ".", color=colour[name], markersize=3, alpha=0.6)
            ax.plot([low, high], [low, high], "--", color="0.3", linewidth=1.0)
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            suffix = f" [{target}]" if np.ndim(y) > 1 and np.shape(y)[1] > 1 else ""
            ax.set_xlabel(f"True value{suffix}")
            ax.set_ylabel(f"Predicted value{suffix}")
            ax.set_title(name, loc="left", fontweight="bold")
    return fig


def residuals_figure(
    methods: Mapping[str, Predictions],
    target: int = 0,
    bins: int = 60,
    colours: Mapping[str, str] | None = None,
) -> Figure:
    """Residual ``prediction - y`` histograms of every method overlaid (unit area).

    The legend gives each method's bias (mean residual) and robust resolution
    (half the 16-84% interquantile range), the numbers a physicist quotes.
    """
    _require(methods, "residual figure")
    colour = _colour_map(list(methods), colours)
    residuals = {}
    for name, predictions in methods.items():
        y, prediction, weight = _unpack(name, predictions)
        t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, target]
        p = np.asarray(prediction, dtype=np.float64).reshape(len(prediction), -1)[:, target]
        residuals[name] = (p - t, weight)
    everything = np.concatenate([r for r, _ in residuals.values()])
    low, high = np.percentile(everything, [0.5, 99.5])
    if high <= low:
        low, high = low - 1.0, high + 1.0
    edges = np.linspace(low, high, bins + 1)
    with _style():
        fig, (ax,) = _figure(1, (6.4, 4.6))
        for name, (r, weight) in residuals.items():
            density, _ = _histogram(r, weight, edges)
            mean = float(np.average(r, weights=weight))
            width = float(np.diff(regression.weighted_quantile(r, [0.16, 0.84], weight))[0] / 2)
            ax.stairs(density, edges, color=colour[name], linewidth=1.8,
                      label=f"{name}: bias = {mean:.3g}, $\\sigma_{{68}}$ = {width:.3g}")
        ax.axvline(0.0, color="0.5", linestyle=":", linewidth=1.0)
        ax.set_xlim(low, high)
        ax.set_ylim(0.0, ax.get_ylim()[1] * 1.25)
        ax.set_xlabel("Residual (predicted $-$ true)")
        ax.set_ylabel("Normalised events / bin width")
        ax.legend(loc="upper right")
        ax.grid(True, color="0.92", linewidth=0.8)
    return fig


__all__ = [
    "METHOD_COLOURS",
    "confusion_matrix_figure",
    "loss_curves_figure",
    "method_colours",
    "one_vs_rest_roc_figure",
    "predicted_vs_true_figure",
    "residuals_figure",
    "resolution_figure",
    "rejection_band",
    "roc_figure",
    "score_distributions_figure",
]
