"""k-means clustering (Lloyd's algorithm, k-means++ seeding), an unsupervised method."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanta.methods.codes import CodesFrom, CodesInput
from quanta.methods.sklearn import ScikitLearnMethod


class KMeans(CodesInput, ScikitLearnMethod):
    """k-means clustering (scikit-learn) of standardised inputs; needs no labels

    Alternates assigning each sample to its nearest of ``clusters`` centres
    and moving each centre to the mean of its samples, from ``n_init``
    k-means++ starts, keeping the one of least inertia. Predictions are the
    squared distances of each sample to every centre (its cluster is the
    nearest); labels, when the data have them, are used only to evaluate.

    Args:
        clusters: number of clusters k.
        n_init: number of k-means++ starts.
        max_iter: iterations per start.
        seed: random seed of the starts.
        codes_from: cluster the codes ``encode(x)`` of a network instead of the inputs: an
            earlier network entry of the run, or such a network's folder in another run
            (:mod:`quanta.methods.codes`).
    """

    learners = {"clusters": "clusterer"}
    scaled = True

    def __init__(self, clusters: Annotated[int, Field(ge=2)] = 2, n_init: Annotated[int, Field(ge=1)] = 4,
                 max_iter: Annotated[int, Field(ge=1)] = 300, seed: int = 1, codes_from: CodesFrom = None):
        super().__init__()
        self.clusters = clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed
        self.codes_from = codes_from

    def clusterer(self):
        from sklearn.cluster import KMeans as Learner

        return Learner(n_clusters=self.clusters, n_init=self.n_init, max_iter=self.max_iter, random_state=self.seed)
