"""Bayesian optimisation of an expensive black-box function of a few parameters.

A Gaussian process (BoTorch's ``SingleTaskGP``, inputs normalised to the unit
box, outputs standardised) models the function from the evaluations so far; an
acquisition (expected improvement, upper confidence bound or maximum variance)
says where the next point, or a jointly chosen batch of points, is worth
measuring. BoTorch and GPyTorch are imported only when an optimisation runs
(``pip install 'quanta[bayes]'``).
"""

from __future__ import annotations

from quanta.bayesopt.acquisition import ACQUISITIONS, acquisition_values
from quanta.bayesopt.loop import optimise
from quanta.bayesopt.random_search import random_search
from quanta.bayesopt.result import OptimisationResult, StepRecord

__all__ = [
    "ACQUISITIONS",
    "OptimisationResult",
    "StepRecord",
    "acquisition_values",
    "optimise",
    "random_search",
]
