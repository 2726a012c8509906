"""The figure after each step: the surrogate with the evaluations, and the acquisition below it.

For two parameters the whole box is shown as three maps: the surrogate's
mean (in the user's units and sign) and its standard deviation with every
evaluation, and the single-point acquisition with the points chosen for the
next step. Otherwise, one column per parameter: a 1-D slice through the best
point so far along that parameter (for one parameter, the whole function).
Top: the surrogate's mean and its 2 sigma band, with every evaluation
projected onto the slice's axis. Bottom: the single-point acquisition along
the slice, and the points chosen for the next step as vertical lines. Built with matplotlib's object-oriented API (no ``pyplot``
state), so it works on clusters without a display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from quanta.bayesopt.acquisition import values_at
from quanta.bayesopt.result import OptimisationResult
from quanta.bayesopt.surrogate import posterior_mean_sd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: points along each slice
SLICE_POINTS = 200
#: points along each side of a two-parameter map
MAP_POINTS = 60
#: what the acquisition axis shows, per acquisition
ACQUISITION_LABELS = {
    "ei": "log expected improvement",
    "ucb": "upper confidence bound",
    "max_variance": r"$2\log\sigma$",
}


def step_figure(
    model: Any,
    acquisition: Any,
    box: np.ndarray,
    result: OptimisationResult,
    chosen: np.ndarray,
    step: int,
    name: str,
) -> Figure:
    """The surrogate and acquisition before ``step``, the ``chosen`` points ``(q, d)`` marked."""
    from matplotlib.figure import Figure

    d = box.shape[0]
    if d == 2:
        return map_figure(model, acquisition, box, result, chosen, step, name)
    sign = 1.0 if result.maximise else -1.0
    best = result.best_point
    figure = Figure(figsize=(4.0 * d, 5.5), layout="constrained")
    axes = figure.subplots(2, d, sharex="col", squeeze=False)
    for i in range(d):
        grid = np.linspace(box[i, 0], box[i, 1], SLICE_POINTS)
        x = np.repeat(best[None, :], SLICE_POINTS, axis=0)
        x[:, i] = grid
        mean, sd = posterior_mean_sd(model, x)
        mean = sign * mean  # the surrogate models the objective to maximise
        top, bottom = axes[0, i], axes[1, i]
        top.fill_between(
            grid,
            mean - 2 * sd,
            mean + 2 * sd,
            color="#56B4E9",
            alpha=0.35,
            label=r"mean $\pm 2\sigma$",
        )
        top.plot(grid, mean, color="#0072B2", label="surrogate mean")
        top.plot(
            result.points[:, i],
            result.values,
            "o",
            color="black",
            markersize=4,
            label="evaluations",
        )
        top.plot(best[i], result.best_value, "*", color="#E69F00", markersize=12, label="best")
        bottom.plot(grid, values_at(acquisition, x), color="#D55E00")
        for point in chosen:
            bottom.axvline(point[i], color="#009E73", linestyle="--", linewidth=1.2)
            top.axvline(point[i], color="#009E73", linestyle="--", linewidth=1.2)
        bottom.set_xlabel(f"parameter {i}" + (" (slice through the best point)" if d > 1 else ""))
        if i == 0:
            top.set_ylabel("value")
            bottom.set_ylabel(ACQUISITION_LABELS[name])
            top.legend(loc="best", fontsize=8)
    figure.suptitle(
        f"step {step}: {len(result.values)} evaluations, next {len(chosen)} point(s) dashed"
    )
    return figure


def map_figure(
    model: Any,
    acquisition: Any,
    box: np.ndarray,
    result: OptimisationResult,
    chosen: np.ndarray,
    step: int,
    name: str,
) -> Figure:
    """Two parameters: maps of the surrogate's mean, its sigma and the acquisition over the box."""
    from matplotlib.figure import Figure

    u = np.linspace(box[0, 0], box[0, 1], MAP_POINTS)
    v = np.linspace(box[1, 0], box[1, 1], MAP_POINTS)
    grid_u, grid_v = np.meshgrid(u, v)
    x = np.stack([grid_u.ravel(), grid_v.ravel()], axis=1)
    mean, sd = posterior_mean_sd(model, x)
    sign = 1.0 if result.maximise else -1.0
    maps = (
        (sign * mean, "surrogate mean", "viridis"),
        (sd, r"surrogate $\sigma$", "magma"),
        (values_at(acquisition, x), ACQUISITION_LABELS[name], "cividis"),
    )
    figure = Figure(figsize=(13.5, 4.2), layout="constrained")
    axes = figure.subplots(1, 3, sharey=True)
    for axis, (values, title, colours) in zip(axes, maps, strict=True):
        # log EI falls by hundreds far from the best: colour the top 90 % of the box, not its tail
        low, high = np.percentile(values, 10), values.max()
        levels = np.linspace(low, high, 21) if high > low else 20
        shown = np.clip(values, low, None).reshape(grid_u.shape)
        filled = axis.contourf(grid_u, grid_v, shown, levels=levels, cmap=colours, extend="min")
        figure.colorbar(filled, ax=axis, shrink=0.9)
        axis.plot(*result.points.T, "o", color="white", markeredgecolor="black", markersize=4,
                  label="evaluations")
        axis.set_title(title)
        axis.set_xlabel("parameter 0")
    axes[0].plot(*result.best_point, "*", color="#E69F00", markersize=14,
                 markeredgecolor="black", label="best")
    axes[2].plot(*np.asarray(chosen).reshape(-1, 2).T, "X", color="#009E73", markersize=10,
                 markeredgecolor="black", label="next")
    axes[0].set_ylabel("parameter 1")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[2].legend(loc="upper right", fontsize=8)
    figure.suptitle(f"step {step}: {len(result.values)} evaluations, next {len(chosen)} point(s)")
    return figure
