"""The Bayesian consensus of quick radius estimators: each calibrated on known curves, combined.

Files: ``curves.py`` (the population and sets of curves), ``estimators.py``
(the estimators, a network trained with quanta), ``calibration.py`` (the
response, scatter and correlation in ln R), ``combination.py`` (the posterior,
assessment, saving), ``figures.py``.

The lecture's protein-mass example: several quick reads of one quantity
(here a sphere's radius from a SAXS curve: the Guinier law, the first minimum,
a network trained on the ``saxs`` source), each biased and noisy in its own
way, are calibrated on samples of known radius and combined by Bayes' theorem
into one estimate whose uncertainty is honest.

*Calibration* (on curves of known radius R, e.g. simulated from a
:class:`CurvePrior`), in t = ln R, for the estimate z_k = ln R_k of estimator k:

    z_k = a_k + b_k (t - t0) + s_k(t) e_k,    ln s_k(t) = c_k + d_k (t - t0),

a linear response (bias a, gain b) with a scatter that may grow or shrink with
the radius, fitted by maximum likelihood on the curves where k gave an answer;
the e_k are jointly Gaussian with the correlation C of the standardised
residuals (the estimators read the same noisy, polydisperse curve, so their
errors are not independent: Guinier and the first minimum both read high on a
polydisperse sample).

*Combination*: the posterior of t given the estimates A that a curve allowed
(an estimator that raises :class:`~quanta.errors.UserError` is a missing value;
the likelihood is the Gaussian's marginal on A),

    p(t | z_A) ~ prior(t) N(z_A; a_A + b_A (t - t0), S_A(t) C_AA S_A(t)),

evaluated on a grid of t. The prior is uniform in ln R over the calibration's
range (``"calibration"``) or flat (``"flat"``: generalised least squares when
the scatter is constant). The answer is the posterior median in A, its sd and
its central 68 % interval. :meth:`Consensus.naive` is the usual shortcut, for
comparison: the raw estimates weighted by their own fit sigmas (over-confident:
the fit sigmas know nothing of polydispersity, nor of each other).

Example (about a second; writes ``consensus.json`` in the working folder)::

    from quanta.consensus import Consensus, CurvePrior, simulate_curves

    prior = CurvePrior(radius=(20.0, 200.0), polydispersity=(0.0, 0.2), flux=(1e4, 1e6))
    consensus = Consensus.simulated(["guinier", "first_minimum"], size=300, seed=1, prior=prior)
    test = simulate_curves(100, seed=2, prior=prior)
    estimate = consensus.combine(test.q, test.intensity[0], test.sigma[0])
    print(estimate, "; true radius", round(float(test.radius[0]), 1), "A")
    print(consensus.assess(test, test.radius).summary()["coverage_68"])
    consensus.save("consensus.json")
    again = Consensus.load("consensus.json")
    assert again.combine(test.q, test.intensity[0], test.sigma[0]).radius == estimate.radius

``Consensus.simulated(["guinier", "first_minimum", "network"])`` also trains
the network (:func:`train_network`, a few seconds).
"""

from __future__ import annotations

from quanta.consensus.calibration import Calibration, fit_calibration
from quanta.consensus.combination import Assessment, Consensus, ConsensusEstimate, Reading
from quanta.consensus.curves import CurvePrior, CurveSet, simulate_curves
from quanta.consensus.estimators import Estimator, NetworkEstimator, estimator, train_network

__all__ = [
    "Assessment",
    "Calibration",
    "Consensus",
    "ConsensusEstimate",
    "CurvePrior",
    "CurveSet",
    "Estimator",
    "NetworkEstimator",
    "Reading",
    "estimator",
    "fit_calibration",
    "simulate_curves",
    "train_network",
]
