"""Figures of a radius consensus: one curve's readings, and the calibrated errors over a test set.

Left: for one curve, each estimator's raw radius (open) and calibrated radius
with its 68 % interval (filled), the naive inverse-variance combination and
the consensus with its 68 % interval, against the true radius (dashed line).
Right: over a test set of known radii, each calibrated estimator's and the
consensus's relative error (R_hat - R) / R against the true radius, with the
RMS relative error and the coverage of the 68 % intervals in the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from quanta.consensus import Assessment, ConsensusEstimate

COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")  # Okabe-Ito
CONSENSUS_COLOUR = "#000000"
NAIVE_COLOUR = "0.55"


def readings_panel(
    ax: Axes,
    estimate: ConsensusEstimate,
    truth: float | None = None,
    naive: ConsensusEstimate | None = None,
) -> None:
    """One curve: each estimator's raw and calibrated radius +- 68 %, the naive one, consensus."""
    rows = list(estimate.per_estimator.values())
    labels = []
    for y, reading in enumerate(rows):
        colour = COLOURS[y % len(COLOURS)]
        if reading.failure is not None:
            ax.text(
                0.02,
                y,
                "failed",
                transform=ax.get_yaxis_transform(),
                va="center",
                color=colour,
                fontsize=8,
            )
            labels.append(f"{reading.name}\n({reading.failure[:40]})")
            continue
        low, high = reading.interval
        ax.errorbar(
            [reading.calibrated],
            [y],
            xerr=[[reading.calibrated - low], [high - reading.calibrated]],
            fmt="o",
            color=colour,
            ms=6,
            capsize=3,
            label="calibrated +- 68 %" if y == 0 else None,
        )
        ax.plot(
            [reading.radius],
            [y],
            "o",
            mfc="none",
            color=colour,
            ms=6,
            label="raw" if y == 0 else None,
        )
        labels.append(reading.name)
    y = len(rows)
    if naive is not None:
        ax.errorbar(
            [naive.radius],
            [y],
            xerr=[[naive.sigma], [naive.sigma]],
            fmt="s",
            color=NAIVE_COLOUR,
            ms=6,
            capsize=3,
        )
        labels.append("naive\n(1/sigma^2 of fit sigmas)")
        y += 1
    low, high = estimate.interval
    ax.errorbar(
        [estimate.radius],
        [y],
        xerr=[[estimate.radius - low], [high - estimate.radius]],
        fmt="D",
        color=CONSENSUS_COLOUR,
        ms=7,
        capsize=4,
        lw=2,
    )
    labels.append("consensus")
    if truth is not None:
        ax.axvline(truth, color="0.3", ls="--", lw=1, label=f"true radius {truth:.4g} A")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("radius [A]")
    ax.set_title(
        f"one curve: consensus {estimate.radius:.4g} A, 68 % {low:.4g}-{high:.4g} A", fontsize=9
    )
    ax.legend(fontsize=7, loc="best")


def errors_panel(ax: Axes, assessment: Assessment) -> None:
    """A test set: each calibrated estimator's and the consensus's relative error vs true radius."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    summary = assessment.summary()
    truth = assessment.truth
    errors = 100 * (assessment.calibrated / truth[:, None] - 1)
    limit = max(5.0, 1.2 * float(np.nanpercentile(np.abs(errors), 95)))  # outliers sit on the frame
    for k, name in enumerate(assessment.names):
        ok = np.isfinite(errors[:, k])
        ax.plot(
            truth[ok],
            np.clip(errors[ok, k], -limit, limit),
            ".",
            ms=3,
            alpha=0.6,
            color=COLOURS[k % len(COLOURS)],
            label=f"{name}: RMS {100 * summary[f'rms_relative_error_{name}']:.1f} %, "
            f"68 % cover {100 * summary[f'coverage_68_{name}']:.0f} %",
        )
    ok = np.isfinite(assessment.radius)
    relative = 100 * (assessment.radius[ok] / truth[ok] - 1)
    below = 100 * (assessment.radius[ok] - assessment.low[ok]) / truth[ok]
    above = 100 * (assessment.high[ok] - assessment.radius[ok]) / truth[ok]
    ax.errorbar(
        truth[ok],
        relative,
        yerr=[below, above],
        fmt="o",
        ms=2.5,
        lw=0.6,
        color=CONSENSUS_COLOUR,
        label=f"consensus: RMS {100 * summary['rms_relative_error']:.1f} %, 68 % cover "
        f"{100 * summary['coverage_68']:.0f} +- {100 * summary['coverage_68_error']:.0f} %",
    )
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(
        [
            t
            for t in (10, 20, 50, 100, 200, 500, 1000, 2000)
            if truth.min() * 0.9 <= t <= truth.max() * 1.1
        ]
    )
    ax.set_ylim(-1.05 * limit, 1.05 * limit)
    ax.set(xlabel="true radius [A]", ylabel="calibrated estimate / true - 1 [%]")
    ax.set_title(
        f"test set: {len(truth)} curves (beyond +-{limit:.0f} %: on the frame)", fontsize=9
    )
    ax.legend(fontsize=7, loc="upper right")


def consensus_figure(
    estimate: ConsensusEstimate,
    assessment: Assessment,
    truth: float | None = None,
    naive: ConsensusEstimate | None = None,
) -> Figure:
    """Both panels side by side: one curve's readings (left) and the test set's errors (right)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    readings_panel(left, estimate, truth, naive)
    errors_panel(right, assessment)
    return fig
