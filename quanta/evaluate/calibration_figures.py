"""Calibration figures: the reliability diagram of classifiers and the coverage of predicted
uncertainties, every method overlaid (the style and conventions of :mod:`quanta.evaluate.figures`).

A classifier is calibrated when, of the events it gives a probability p, a
fraction p is signal; a regression's uncertainties are honest when the
interval mu ± z sigma holds the fraction of true values a Gaussian says it
should. Regressions with a per-sample uncertainty are passed as
``(y, prediction, sigma[, weight])``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from quanta.errors import UserError
from quanta.evaluate import binary, multiclass, regression
from quanta.evaluate.figures import Predictions, _colour_map, _figure, _require, _style, _unpack

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def reliability_figure(
    methods: Mapping[str, Predictions],
    bins: int = binary.CALIBRATION_BINS,
    colours: Mapping[str, str] | None = None,
) -> Figure:
    """Reliability diagram: observed fraction of signal against mean predicted probability.

    The probabilities are binned in ``bins`` equal-width bins; each method is
    one line of points (with binomial 68 % intervals, Wilson's) at the bins' mean predicted
    probability, and a calibrated classifier lies on the dashed diagonal. The
    legend gives each method's expected calibration error (ECE). Points above
    the diagonal are bins where the method underestimates the signal
    fraction, points below where it overestimates it. The lower panel shows
    how the events spread over the bins (log scale): a bin with few events
    weighs little in the ECE.

    With class probabilities (scores float[N, K]) the diagram is the top-label
    one: the accuracy of the most probable class against its probability
    (:func:`quanta.evaluate.multiclass.top_label_reliability`).

    Args:
        methods: ``{name: (y, score[, weight])}``; every score a probability.
        bins: the number of equal-width probability bins.
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
    """
    _require(methods, "reliability diagram")
    colour = _colour_map(list(methods), colours)
    curves, shares, kinds = {}, {}, set()
    edges = np.linspace(0.0, 1.0, bins + 1)
    for name, predictions in methods.items():
        y, score, weight = _unpack(name, predictions)
        top_label = score.ndim == 2 and score.shape[1] > 1
        kinds.add(top_label)
        try:
            if top_label:
                curves[name] = multiclass.top_label_reliability(y, score, weight, bins)
                probability = score.max(axis=1)
            else:
                probability = score.reshape(len(score))
                curves[name] = binary.reliability_curve(y, probability, weight, bins)
        except UserError as error:
            raise UserError(f"reliability diagram of {name}: {error}") from None
        w = np.ones_like(probability) if weight is None else weight
        counts, _ = np.histogram(probability, edges, weights=w)
        shares[name] = counts / np.sum(w)
    if len(kinds) > 1:
        raise UserError("reliability diagram: the methods mix signal probabilities and class "
                        "probabilities")
    top_label = kinds.pop()
    from matplotlib.figure import Figure

    with _style():
        fig = Figure(figsize=(6.6, 6.4), layout="constrained")
        ax, share_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3.0, 1.0))
        ax.plot([0.0, 1.0], [0.0, 1.0], "--", color="0.55", linewidth=1.2, label="calibrated")
        for name, curve in curves.items():
            ece = curve.calibration_error()
            spread = np.stack([curve.observed - curve.low, curve.high - curve.observed])
            ax.errorbar(curve.predicted, curve.observed, yerr=np.clip(spread, 0.0, None), fmt="o-",
                        color=colour[name], markersize=4.5, linewidth=1.4, elinewidth=1.1,
                        label=f"{name}  (ECE = {ece:.3f})")
            share_ax.stairs(np.where(shares[name] > 0, shares[name], np.nan), edges,
                            color=colour[name], linewidth=1.6)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(-0.02, 1.02)
        what = "accuracy of the top class" if top_label else "fraction of signal"
        ax.set_ylabel(f"Observed {what}")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(True, color="0.92", linewidth=0.8)
        share_ax.set_yscale("log")
        share_ax.set_ylabel("Fraction of events")
        share_ax.set_xlabel("Predicted probability of the top class" if top_label
                            else "Predicted signal probability")
        share_ax.grid(True, color="0.92", linewidth=0.8)
    return fig


def _with_uncertainty(name: str, predictions: Predictions) -> tuple[np.ndarray, ...]:
    """``(y, prediction, sigma, weight or None)`` of one method."""
    if len(predictions) not in (3, 4):
        raise UserError(f"{name}: expected (y, prediction, uncertainty) or (y, prediction, "
                        f"uncertainty, weight), received {len(predictions)} items")
    weight = None if len(predictions) == 3 or predictions[3] is None else np.asarray(predictions[3])
    y, prediction, sigma = (np.asarray(a) for a in predictions[:3])
    return y, prediction, sigma, weight


def coverage_figure(
    methods: Mapping[str, Predictions], colours: Mapping[str, str] | None = None,
) -> Figure:
    """Observed against nominal coverage of the central Gaussian intervals ``prediction ± z σ``.

    For every method that predicts a per-sample uncertainty ``sigma``, the
    fraction of samples whose true value lies inside the interval of nominal
    level ``q`` (``z = sqrt(2) erfinv(q)``), for ``q`` from 0.05 to 0.99
    (:func:`quanta.evaluate.regression.coverage_curve`). Honest Gaussian
    uncertainties follow the dashed diagonal; a curve below it is
    overconfident (``sigma`` too small), above it conservative. The band is
    the binomial uncertainty of the observed fraction; dotted lines mark the
    68.27 % and 95.45 % levels (``z`` = 1 and 2), whose coverages the legend gives.

    Args:
        methods: ``{name: (y, prediction, sigma[, weight])}``, ``sigma`` shaped like the prediction.
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
    """
    _require(methods, "coverage figure")
    colour = _colour_map(list(methods), colours)
    levels = np.linspace(0.05, 0.99, 95)
    one, two = (regression.gaussian_level(z) for z in regression.COVERAGE_INTERVALS.values())
    with _style():
        fig, (ax,) = _figure(1, (6.4, 5.6))
        ax.plot([0.0, 1.0], [0.0, 1.0], "--", color="0.55", linewidth=1.2,
                label="honest Gaussian σ")
        for level in (one, two):
            ax.axvline(level, color="0.6", linestyle=":", linewidth=1.0, zorder=0)
        for name, predictions in methods.items():
            y, prediction, sigma, weight = _with_uncertainty(name, predictions)
            try:
                observed = regression.coverage_curve(y, prediction, sigma, levels, weight)
                at = regression.coverage_curve(y, prediction, sigma, [one, two], weight)
            except UserError as error:
                raise UserError(f"coverage figure of {name}: {error}") from None
            effective = binary.effective_events(np.ones(len(y)) if weight is None else weight)
            band = np.sqrt(np.clip(observed * (1.0 - observed), 0.0, None) / max(effective, 1.0))
            ax.fill_between(levels, observed - band, observed + band, color=colour[name],
                            alpha=0.2, linewidth=0)
            label = f"{name}:  68.3 % → {100 * at[0]:.1f} %,  95.4 % → {100 * at[1]:.1f} %"
            ax.plot(levels, observed, color=colour[name], label=label)
        ax.text(0.04, 0.96, "conservative (σ too large)", transform=ax.transAxes, va="top",
                fontsize=9, color="0.4")
        ax.text(0.96, 0.04, "overconfident (σ too small)", transform=ax.transAxes, ha="right",
                fontsize=9, color="0.4")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel("Nominal coverage of prediction ± zσ")
        ax.set_ylabel("Observed coverage")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=9)
        ax.grid(True, color="0.92", linewidth=0.8)
    return fig


def _flattened(name: str, predictions: Predictions) -> tuple[np.ndarray, ...]:
    """``(y, prediction, sigma, weight)`` of one method as float64 vectors, one entry per element
    (a sample of several targets gives one per target, each with the sample's weight)."""
    y, prediction, sigma, weight = _with_uncertainty(name, predictions)
    if y.shape != prediction.shape or sigma.shape != prediction.shape:
        raise UserError(f"{name}: true values {list(y.shape)}, predictions {list(prediction.shape)} "
                        f"and uncertainties {list(sigma.shape)} differ in shape")
    per_row = y.size // max(len(y), 1)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)
    y, prediction, sigma = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, prediction, sigma))
    return y, prediction, sigma, np.repeat(w, per_row)


def _finite_pulls(name: str, predictions: Predictions) -> tuple[np.ndarray, ...]:
    """:func:`_flattened` of the elements with ``sigma > 0`` (where a pull is defined)."""
    y, prediction, sigma, weight = _flattened(name, predictions)
    keep = np.isfinite(sigma) & (sigma > 0)
    if not keep.any():
        raise UserError(f"{name}: no sample has an uncertainty above zero")
    return y[keep], prediction[keep], sigma[keep], weight[keep]


def pull_summary(pulls: np.ndarray, weight: np.ndarray) -> tuple[float, float, float, float]:
    """The pulls' weighted mean and width (standard deviation), each with its statistical error.

    Honest Gaussian uncertainties give mean 0 and width 1; a width above 1
    means sigma is too small. The errors are those of a Gaussian sample of the
    events' effective size: width / sqrt(n) and width / sqrt(2 n).
    """
    mean = float(np.average(pulls, weights=weight))
    width = float(np.sqrt(np.average((pulls - mean) ** 2, weights=weight)))
    effective = max(binary.effective_events(weight), 1.0)
    return mean, width / np.sqrt(effective), width, width / np.sqrt(2.0 * effective)


def pulls_figure(
    methods: Mapping[str, Predictions], colours: Mapping[str, str] | None = None,
    limit: float = 5.0, bins: int | None = None,
) -> Figure:
    """Distribution of the pulls ``(y - prediction) / σ`` of every method, with the unit Gaussian.

    A physicist checks predicted uncertainties by their pulls: honest Gaussian
    sigmas give pulls distributed as N(0, 1), drawn dashed. A mean away from 0
    is a bias in units of sigma; a width above 1 means the sigmas are too small,
    below 1 too large. The legend gives each method's pull mean and width with
    their statistical errors (:func:`pull_summary`); pulls beyond ``±limit``
    are counted in the outermost bins. Samples with ``σ = 0`` have no pull and
    are left out.

    Args:
        methods: ``{name: (y, prediction, sigma[, weight])}``, ``sigma`` shaped like the prediction.
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
        limit: the histogram's range, ``[-limit, limit]``.
        bins: the number of equal-width bins; None: about the square root of the smallest
            method's sample count, between 10 and 40 (a test split of 60 events gets 10).
    """
    _require(methods, "pulls figure")
    colour = _colour_map(list(methods), colours)
    flattened = {name: _finite_pulls(name, predictions) for name, predictions in methods.items()}
    if bins is None:
        smallest = min(len(arrays[0]) for arrays in flattened.values())
        bins = int(np.clip(np.sqrt(smallest), 10, 40))
    edges = np.linspace(-limit, limit, bins + 1)
    with _style():
        fig, (ax,) = _figure(1, (6.4, 5.0))
        grid = np.linspace(-limit, limit, 400)
        ax.plot(grid, np.exp(-0.5 * grid**2) / np.sqrt(2.0 * np.pi), "--", color="0.45",
                linewidth=1.3, label="N(0, 1): honest σ")
        for name, (y, prediction, sigma, weight) in flattened.items():
            pulls = (y - prediction) / sigma
            mean, mean_error, width, width_error = pull_summary(pulls, weight)
            density, _ = np.histogram(np.clip(pulls, -limit, limit), edges, weights=weight)
            density = density / (np.sum(weight) * np.diff(edges))
            ax.stairs(density, edges, color=colour[name], linewidth=1.7,
                      label=f"{name}:  mean {mean:+.2f} ± {mean_error:.2f},  "
                            f"width {width:.2f} ± {width_error:.2f}")
        ax.set_xlim(-limit, limit)
        ax.set_ylim(0.0, None)
        ax.set_xlabel("Pull  (true − predicted) / σ")
        ax.set_ylabel("Fraction of samples per unit pull")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(True, color="0.92", linewidth=0.8)
    return fig


def predictive_bands_figure(
    methods: Mapping[str, Predictions], colours: Mapping[str, str] | None = None,
    points: int = 200,
) -> Figure:
    """Each method's prediction ± 2σ against the true value, samples ordered by the true value.

    One panel per method: every shown sample is a point at (true, predicted)
    with its ±2σ interval as an error bar; the dashed diagonal is a perfect
    prediction, and about 95 % of the bars of honest Gaussian sigmas cross it
    (the panel's title gives the observed fraction, over all samples). At most
    ``points`` samples are drawn, evenly spaced in the order of their true
    value, so that the whole range stays readable.

    Args:
        methods: ``{name: (y, prediction, sigma[, weight])}``, ``sigma`` shaped like the prediction.
        colours: optional ``{name: colour}`` (see :func:`method_colours`).
        points: the most samples drawn per panel.
    """
    _require(methods, "predictive bands figure")
    colour = _colour_map(list(methods), colours)
    with _style():
        fig, axes = _figure(len(methods), (5.6, 5.0))
        for ax, (name, predictions) in zip(axes, methods.items(), strict=False):
            y, prediction, sigma, w = _flattened(name, predictions)
            inside = np.abs(y - prediction) <= 2.0 * sigma
            order = np.argsort(y, kind="stable")
            shown = order[np.unique(np.linspace(0, len(order) - 1, min(points, len(order)))
                                    .round().astype(int))]
            ax.errorbar(y[shown], prediction[shown], yerr=2.0 * sigma[shown], fmt="o",
                        color=colour[name], markersize=3.0, elinewidth=0.9, alpha=0.8,
                        label="prediction ± 2σ")
            low, high = float(np.min(y)), float(np.max(y))
            ax.plot([low, high], [low, high], "--", color="0.45", linewidth=1.2,
                    label="perfect prediction")
            fraction = float(np.sum(w * inside) / np.sum(w))
            ax.set_title(f"{name}: {100 * fraction:.1f} % of true values within ± 2σ", fontsize=10)
            ax.set_xlabel("True value")
            ax.set_ylabel("Predicted value")
            ax.legend(loc="upper left", fontsize=9)
            ax.grid(True, color="0.92", linewidth=0.8)
    return fig


__all__ = ["coverage_figure", "predictive_bands_figure", "pull_summary", "pulls_figure",
           "reliability_figure"]
