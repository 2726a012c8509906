"""Gaussian mixture clustering (expectation-maximisation), an unsupervised method."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.methods.base import predict_in_chunks
from quanta.methods.codes import CodesFrom, CodesInput
from quanta.methods.sklearn import ScikitLearnMethod


class GaussianMixture(CodesInput, ScikitLearnMethod):
    """Gaussian mixture clustering (scikit-learn, EM) of standardised inputs; needs no labels

    Fits ``components`` Gaussians (weights, means, covariances) by
    expectation-maximisation from ``n_init`` k-means starts, keeping the one of
    highest likelihood. Predictions are each sample's negative log
    responsibility of every component, ``-ln p(k | x)`` (0 for a certain
    member, ``ln 2`` on the boundary of two): its cluster is the smallest, the
    most probable component, as a k-means cluster is the nearest centre
    (:mod:`quanta.evaluate.clustering`). ``exp(-score)`` are the membership
    probabilities. Labels, when the data have them, are used only to evaluate.

    Args:
        components: number of Gaussian components.
        covariance: ``full`` (one matrix per component), ``tied`` (one shared),
            ``diag`` (axis-aligned) or ``spherical`` (one variance per component).
        n_init: number of starts.
        max_iter: EM iterations per start.
        seed: random seed of the starts.
        codes_from: an earlier network of the run whose codes ``encode(x)`` are clustered
            instead of the inputs (:mod:`quanta.methods.codes`); or such a network's folder in another run.
    """

    learners = {"clusters": "clusterer"}
    scaled = True

    def __init__(self, components: Annotated[int, Field(ge=2, description="an integer >= 2")] = 2,
                 covariance: Literal["full", "tied", "diag", "spherical"] = "full",
                 n_init: Annotated[int, Field(ge=1, description="an integer >= 1")] = 4,
                 max_iter: Annotated[int, Field(ge=1, description="an integer >= 1")] = 200,
                 seed: int = 1, codes_from: CodesFrom = None):
        super().__init__()
        self.components = components
        self.covariance = covariance
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed
        self.codes_from = codes_from

    def clusterer(self) -> Any:
        from sklearn.mixture import GaussianMixture as Learner

        return Learner(n_components=self.components, covariance_type=self.covariance,
                       n_init=self.n_init, max_iter=self.max_iter, random_state=self.seed)

    def predict(self, data: Any) -> np.ndarray:
        """The negative log responsibilities ``-ln p(k | x)`` [N, components] of every sample."""
        self._check_fitted("learner_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        probability = self.learner_.predict_proba(self._table(data))
        tiny = np.finfo(np.float64).tiny  # a far component: -ln p stays finite (<= 708)
        return (-np.log(np.maximum(probability, tiny))).astype(np.float32)


__all__ = ["GaussianMixture"]
