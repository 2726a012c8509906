"""Bayesian inference of scattering models: MCMC fits of a SAXS/SANS curve with emcee.

``fit_curve(q, I, dI, model="sphere")`` samples the posterior of a sasmodels
shape's size, polydispersity, scale and background (``mcmc.py``), with the
model, priors and likelihood in ``model.py``, the least-squares start in
``start.py``, curve files in ``curve.py``, the corner plot and the posterior
band in ``figures.py``, and ``quanta fit-curve`` in ``command.py``. emcee and
corner are imported only when a fit or a figure is made.
"""

from __future__ import annotations

from quanta.inference.curve import Curve, read_curve
from quanta.inference.mcmc import Posterior, fit_curve
from quanta.inference.model import MODELS

__all__ = ["MODELS", "Curve", "Posterior", "fit_curve", "read_curve"]
