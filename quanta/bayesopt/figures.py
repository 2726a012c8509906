"""The figure after each step: the surrogate with the evaluations, and the acquisition below it.

One column per parameter: a 1-D slice through the best point so far along
that parameter (for one parameter, the whole function). Top: the surrogate's
mean and its 2 sigma band, in the user's units and sign, with every
evaluation projected onto the slice's axis. Bottom: the single-point
acquisition along the slice, and the points chosen for the next step as
vertical lines. Built with matplotlib's object-oriented API (no ``pyplot``
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
