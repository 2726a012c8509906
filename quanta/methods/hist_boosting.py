"""Histogram gradient boosting (as LightGBM): boosted trees grown on binned features."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod


class HistBoosting(ScikitLearnMethod):
    """Histogram gradient-boosted trees (scikit-learn's HistGradientBoosting, as LightGBM)

    Bins every feature into at most 255 quantile bins, then adds ``max_iter``
    trees one by one, each fitted to the gradient of the loss (log-loss for
    classes, squared error for values) and shrunk by ``learning_rate``; trees
    grow best-first up to ``max_leaf_nodes`` leaves. Early stopping is off by
    default (the result is then fixed by the data); when on, it watches a
    held-out ``validation_fraction`` of the training rows, drawn with
    ``seed`` (not the experiment's validation split).

    Args:
        max_iter: number of boosting rounds (trees per class).
        learning_rate: shrinkage of each tree.
        max_leaf_nodes: most leaves of a tree.
        max_depth: maximum depth of a tree (0: limited by max_leaf_nodes only).
        min_samples_leaf: minimum number of training rows in a leaf.
        l2_regularization: L2 penalty on the leaf values.
        early_stopping: stop once the held-out loss has not improved for ``n_iter_no_change``
            rounds.
        validation_fraction: fraction of the training rows held out for early stopping.
        n_iter_no_change: patience of early stopping, in rounds.
        n_jobs: threads (0: all cores; 1 is as fast for a few thousand rows, and much faster
            when other programs keep the cores busy).
        seed: random seed of the held-out rows and of the binning of large data.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    one_target = True

    def __init__(self, max_iter: Annotated[int, Field(ge=1)] = 200,
                 learning_rate: Annotated[float, Field(gt=0)] = 0.1,
                 max_leaf_nodes: Annotated[int, Field(ge=2)] = 31,
                 max_depth: Annotated[int, Field(ge=0)] = 0,
                 min_samples_leaf: Annotated[int, Field(ge=1)] = 20,
                 l2_regularization: Annotated[float, Field(ge=0)] = 0.0,
                 early_stopping: bool = False,
                 validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1,
                 n_iter_no_change: Annotated[int, Field(ge=1)] = 10,
                 n_jobs: Annotated[int, Field(ge=0)] = 0, seed: int = 1):
        super().__init__()
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs
        self.seed = seed

    def fit(self, train, valid, task, **context: Any) -> HistBoosting:
        with self._threads():
            return super().fit(train, valid, task, **context)

    def predict(self, data) -> np.ndarray:
        with self._threads():
            return super().predict(data)

    def _threads(self):
        from threadpoolctl import threadpool_limits  # scikit-learn's own thread control

        return threadpool_limits(self.n_jobs or None, user_api="openmp")

    def _options(self) -> dict:
        return {"max_iter": self.max_iter, "learning_rate": self.learning_rate,
                "max_leaf_nodes": self.max_leaf_nodes, "max_depth": self.max_depth or None,
                "min_samples_leaf": self.min_samples_leaf,
                "l2_regularization": self.l2_regularization, "early_stopping": self.early_stopping,
                "validation_fraction": self.validation_fraction,
                "n_iter_no_change": self.n_iter_no_change, "random_state": self.seed}

    def classifier(self):
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(**self._options())

    def regressor(self):
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(**self._options())
