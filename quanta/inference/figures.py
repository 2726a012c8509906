"""Figures of a curve fit: the corner plot of the posterior and the posterior band over the data.

The corner plot (corner.py, Foreman-Mackey 2016) shows every parameter's
marginal posterior with its 16/50/84 % quantiles and every pair's joint
density; scale is shown as log10 (it spans decades). The band figure shows
the measured curve with its error bars on log-log axes, as SAXS curves are
read (Guinier region, fringes, Porod decay), the median model and its 68 %
and 95 % posterior bands, and below it the normalised residuals.

Reference: D. Foreman-Mackey, "corner.py: Scatterplot matrices in Python",
JOSS 1 (2016) 24.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quanta.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from quanta.inference.mcmc import Posterior

BAND_COLOUR = "#0072B2"
DATA_COLOUR = "#000000"


def corner_figure(posterior: Posterior, truths: dict[str, float] | None = None) -> Figure:
    """The corner plot of the post-burn-in samples (log10 for parameters sampled in log10)."""
    try:
        import corner
    except ImportError:
        raise UserError("fit-curve: the corner plot needs corner; install it with pip install 'quanta[bayes]'") from None
    from matplotlib.figure import Figure

    samples = posterior.samples.copy()
    labels = []
    for i, name in enumerate(posterior.names):
        unit = posterior.units[i]
        if posterior.priors[name][2]:
            samples[:, i] = np.log10(samples[:, i])
            labels.append(f"log10 {name}" + (f" [{unit}]" if unit else ""))
        else:
            labels.append(name + (f" [{unit}]" if unit else ""))
    marks = None
    if truths:
        marks = [None if name not in truths else
                 (np.log10(truths[name]) if posterior.priors[name][2] else truths[name])
                 for name in posterior.names]
    size = 2.6 * len(posterior.names)
    fig = Figure(figsize=(size, size))
    corner.corner(samples, fig=fig, labels=labels, quantiles=[0.16, 0.5, 0.84], show_titles=True,
                  title_fmt=".4g", title_kwargs={"fontsize": 8}, label_kwargs={"fontsize": 9},
                  max_n_ticks=3, use_math_text=True, labelpad=0.1, truths=marks, color=BAND_COLOUR)
    return fig


def band_figure(posterior: Posterior, draws: int = 200, seed: int = 0) -> Figure:
    """The data with error bars, the median model and its 68 / 95 % bands, log-log, with residuals."""
    from matplotlib.figure import Figure

    band = posterior.band(draws=draws, seed=seed)
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    curve, pulls = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    q, intensity, sigma = posterior.q, posterior.intensity, posterior.sigma
    shown = intensity > 0  # a log axis cannot show I <= 0
    curve.errorbar(q[shown], intensity[shown], yerr=sigma[shown], fmt="o", ms=2.5, lw=0.8, color=DATA_COLOUR,
                   label="data" + (" (dI assumed: counting)" if posterior.sigma_assumed else ""))
    curve.fill_between(q, band["low95"], band["high95"], color=BAND_COLOUR, alpha=0.2, lw=0, label="95 %")
    curve.fill_between(q, band["low68"], band["high68"], color=BAND_COLOUR, alpha=0.4, lw=0, label="68 %")
    curve.plot(q, band["median"], color=BAND_COLOUR, lw=1.5, label=f"median {posterior.model} model")
    curve.set(xscale="log", yscale="log", ylabel="I(q) [cm$^{-1}$]")
    curve.legend()
    pulls.axhline(0.0, color="0.5", lw=0.8)
    pulls.plot(q, (intensity - band["median"]) / sigma, "o", ms=2.5, color=DATA_COLOUR)
    pulls.set(xscale="log", xlabel="q [1/A]", ylabel="(I - model) / dI")
    return fig
