"""Random forests (Breiman 2001): many deep trees on bootstrap samples, their votes averaged."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod


class RandomForest(ScikitLearnMethod):
    """Random forest (scikit-learn): averaged decision trees on bootstrap samples and random feature subsets

    Each tree is grown on a bootstrap sample of the training split, choosing
    each split among a random subset of ``max_features`` features; the forest
    predicts the mean of its trees' class probabilities (or values).

    Args:
        n_estimators: number of trees.
        max_depth: maximum depth of a tree (0: grown until leaves are pure).
        min_samples_leaf: minimum number of samples in a leaf.
        max_features: fraction of the features considered at each split.
        n_jobs: threads (0: all cores).
        seed: random seed of bootstrap samples and feature subsets.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier", "values": "regressor"}

    def __init__(self, n_estimators: Annotated[int, Field(ge=1)] = 200, max_depth: Annotated[int, Field(ge=0)] = 0,
                 min_samples_leaf: Annotated[int, Field(ge=1)] = 1,
                 max_features: Annotated[float, Field(gt=0, le=1)] = 0.5,
                 n_jobs: int = 0, seed: int = 1):
        super().__init__()
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.seed = seed

    def _options(self) -> dict:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth or None,
                "min_samples_leaf": self.min_samples_leaf, "max_features": self.max_features,
                "n_jobs": self.n_jobs or -1, "random_state": self.seed}

    def classifier(self):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(**self._options())

    def regressor(self):
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(**self._options())
