"""Extremely randomised trees (Geurts, Ernst & Wehenkel 2006): a forest of randomly drawn cuts."""

from __future__ import annotations

from quanta.methods.random_forest import RandomForest


class ExtraTrees(RandomForest):
    """Extremely randomised trees (scikit-learn): averaged trees with random cut thresholds

    Like a random forest, but every tree sees all training rows (no
    bootstrap) and each node draws one threshold at random per candidate
    feature, keeping the best of those: more randomness, less variance, and
    faster to grow than a forest of optimised cuts.

    Args:
        n_estimators: number of trees.
        max_depth: maximum depth of a tree (0: grown until leaves are pure).
        min_samples_leaf: minimum number of samples in a leaf.
        max_features: fraction of the features considered at each split.
        n_jobs: threads (0: all cores).
        seed: random seed of thresholds and feature subsets.
    """

    def classifier(self):
        from sklearn.ensemble import ExtraTreesClassifier

        return ExtraTreesClassifier(**self._options())

    def regressor(self):
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(**self._options())
