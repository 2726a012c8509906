"""k-nearest neighbours (Fix & Hodges 1951; Cover & Hart 1967): a point is like its neighbours."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from quanta.errors import UserError
from quanta.methods.sklearn import ScikitLearnMethod


class KNearestNeighbours(ScikitLearnMethod):
    """k-nearest neighbours (scikit-learn) of standardised inputs: vote or mean of the k closest

    Keeps the training rows; a new row gets the class fractions (or mean
    target) of its ``n_neighbors`` nearest training rows in Euclidean distance
    of the standardised inputs, each counted once (``uniform``) or by 1 /
    distance (``distance``). Nothing is fitted but a search tree, so
    prediction costs what training saves. Per-sample weights are not used.

    Args:
        n_neighbors: number of neighbours k (small: a detailed, noisy boundary).
        weights: ``uniform`` or ``distance``.
        n_jobs: threads of the neighbour search (0: all cores).
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    scaled = True

    def __init__(self, n_neighbors: Annotated[int, Field(ge=1)] = 15,
                 weights: Literal["uniform", "distance"] = "uniform", n_jobs: int = 0):
        super().__init__()
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.n_jobs = n_jobs

    def fit(self, train, valid, task, **context: Any) -> KNearestNeighbours:
        if not train.streamed and len(train) < self.n_neighbors:
            raise UserError(f"{self.label()}: n_neighbors={self.n_neighbors} is more than the "
                            f"{len(train)} training rows")
        return super().fit(train, valid, task, **context)

    def _options(self) -> dict:
        return {"n_neighbors": self.n_neighbors, "weights": self.weights,
                "n_jobs": self.n_jobs or -1}

    def classifier(self):
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(**self._options())

    def regressor(self):
        from sklearn.neighbors import KNeighborsRegressor

        return KNeighborsRegressor(**self._options())
