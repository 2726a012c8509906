"""The figures of a comparison: map error against measurements and time, and the maps themselves.

- :func:`error_figure`: the map error (A) after n measurements (left) and
  after t seconds of beam time (right), for each strategy the mean over seeds
  and a band from the smallest to the largest, with the target as a line.
- :func:`maps_figure`: one row per strategy (one seed): the reference field
  with the beam path and the measured points (failed ones crossed), the
  Gaussian-process mean, and its standard deviation with the points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.autonomous.campaign import Campaign

COLOURS = {"gp": "tab:blue", "raster": "tab:orange", "random": "tab:green"}
LABELS = {"gp": "autonomous (GP)", "raster": "raster", "random": "random"}


def error_figure(campaigns: dict[str, list[Campaign]], target: float) -> Any:
    """Map error against measurements and seconds; ``campaigns`` maps strategy -> one per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_count, by_time) = plt.subplots(1, 2, figsize=(11, 4.2))
    for strategy, runs in campaigns.items():
        colour, label = COLOURS[strategy], f"{LABELS[strategy]} ({len(runs)} seeds)"
        counts = sorted({int(n) for run in runs for n in run.errors[:, 0]})
        table = np.full((len(runs), len(counts)), np.nan)
        for i, run in enumerate(runs):
            for n, _, error in run.errors:
                table[i, counts.index(int(n))] = error
        _band(by_count, np.array(counts, float), table, colour, label)
        longest = max(run.errors[-1, 1] for run in runs if len(run.errors))
        times = np.linspace(0.0, longest, 200)
        curves = np.array([_step_curve(run.errors[:, 1], run.errors[:, 2], times) for run in runs])
        _band(by_time, times, curves, colour, label)
    for axes, xlabel in ((by_count, "measurements"), (by_time, "beam time (s): exposure + moves")):
        axes.axhline(target, color="black", linestyle="--", linewidth=1,
                     label=f"target {target:g} A")
        axes.set_yscale("log")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("map error, RMSE (A)")
        axes.grid(alpha=0.3, which="both")
    by_count.legend(fontsize=8)
    by_count.set_title("map error after n measurements (mean, min-max over seeds)", fontsize=9)
    by_time.set_title("map error against beam time", fontsize=9)
    figure.tight_layout()
    return figure


def maps_figure(campaigns: dict[str, Campaign], label: str = "radius (A)") -> Any:
    """Reference, GP mean and GP sd maps with points and path, one row per strategy (one seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(campaigns)
    figure, axes = plt.subplots(rows, 3, figsize=(11.5, 3.4 * rows), squeeze=False)
    for row, (strategy, run) in enumerate(campaigns.items()):
        extent = [0.0, run.sample.extent[0], 0.0, run.sample.extent[1]]
        low, high = np.nanmin(run.reference), np.nanmax(run.reference)
        shown = dict(origin="lower", extent=extent, vmin=low, vmax=high, cmap="viridis")
        points = run.points
        failed = np.array([m.feature is None for m in run.measurements], dtype=bool)
        image = axes[row, 0].imshow(run.reference, **shown)
        axes[row, 0].plot(points[:, 0], points[:, 1], color="white", linewidth=0.7, alpha=0.8)
        error = run.errors[-1, 2] if len(run.errors) else float("nan")
        panels = [(axes[row, 0], f"{LABELS[strategy]}: reference, beam path", image)]
        if run.final_map is not None:
            mean = axes[row, 1].imshow(run.final_map.mean, **shown)
            sd = axes[row, 2].imshow(run.final_map.sd, origin="lower", extent=extent, cmap="magma")
            panels += [(axes[row, 1], f"GP mean, error {error:.2f} A", mean),
                       (axes[row, 2], "GP standard deviation (A)", sd)]
        for panel, title, mappable in panels:
            panel.scatter(points[~failed, 0], points[~failed, 1], s=6, color="red", linewidths=0)
            panel.scatter(points[failed, 0], points[failed, 1], s=14, color="red", marker="x")
            panel.set_title(f"{title}\n{len(points)} measurements", fontsize=9)
            panel.set_xlabel("x (mm)")
            panel.set_ylabel("y (mm)")
            figure.colorbar(mappable, ax=panel, label=label if panel is not axes[row, 2] else "A")
    figure.tight_layout()
    return figure


def _band(axes: Any, x: np.ndarray, table: np.ndarray, colour: str, label: str) -> None:
    """Mean over rows of ``table`` (seeds x points) as a line, min-max as a band (NaN ignored)."""
    seen = np.isfinite(table).any(0)
    x, table = x[seen], table[:, seen]
    axes.plot(x, np.nanmean(table, 0), color=colour, label=label)
    axes.fill_between(x, np.nanmin(table, 0), np.nanmax(table, 0), color=colour, alpha=0.2,
                      linewidth=0)


def _step_curve(times: np.ndarray, errors: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The last error recorded before each time of ``at`` (NaN before the first, after the last)."""
    index = np.searchsorted(times, at, side="right") - 1
    out = np.where(index >= 0, errors[np.clip(index, 0, None)], np.nan)
    return np.where(at > times[-1], np.nan, out) if len(times) else np.full(len(at), np.nan)
