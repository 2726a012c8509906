"""The trees' own variable importances of a fitted classical method.

Decision trees and their ensembles measure, while they are trained, how much
each variable helped them: XGBoost sums the gain (the improvement of the
loss) of every split on a variable over all trees up to the best round;
scikit-learn's trees, forests and AdaBoost sum the decrease of impurity (Gini
or squared error) of every split on it, weighted by the events that reach it
(the "mean decrease in impurity"). TMVA ranks a BDT's variables by a measure
of the same kind. Both are normalised here to sum to 1 over the variables.

They come for free, but only describe the training: a variable with many
distinct values can collect gain by splitting noise. Permutation importance
(:mod:`quanta.evaluate.importance`) measures every method on validation
events instead; the report shows both.

Methods without trees (networks, logistic regression, SVMs, k-nearest
neighbours, histogram boosting, which keeps no importances) give None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: what the importances of each kind of learner measure, as the report names them
XGBOOST_GAIN = "total gain of its splits (XGBoost)"
IMPURITY_DECREASE = "mean decrease in impurity (scikit-learn)"


def _tree_learners() -> tuple[type, ...]:
    """scikit-learn's learners that keep ``feature_importances_`` from their trees."""
    from sklearn.ensemble import (
        AdaBoostClassifier,
        AdaBoostRegressor,
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    return (BaseDecisionTree, RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
            ExtraTreesRegressor, AdaBoostClassifier, AdaBoostRegressor, GradientBoostingClassifier,
            GradientBoostingRegressor)


def _per_column(estimator: Any, columns: int) -> tuple[np.ndarray, str] | None:
    """The importance of each column of the method's input table, and what it measures."""
    from quanta.methods.boosted_trees import BoostedTrees
    from quanta.methods.sklearn import ScikitLearnMethod

    if isinstance(estimator, BoostedTrees):
        kept = estimator.booster_[: estimator.best_round_ + 1]  # the trees its predictions use
        gains = kept.get_score(importance_type="total_gain")  # {"f<column>": gain}; unsplit: absent
        values = np.zeros(columns)
        for name, gain in gains.items():
            values[int(name.removeprefix("f"))] = gain
        return values, XGBOOST_GAIN
    if isinstance(estimator, ScikitLearnMethod):
        from sklearn.pipeline import Pipeline

        learner = estimator.learner_
        learner = learner[-1] if isinstance(learner, Pipeline) else learner
        # after a feature map (kernel_map) the last step sees other columns than the inputs
        if isinstance(learner, _tree_learners()) and learner.n_features_in_ == columns:
            return np.asarray(learner.feature_importances_, dtype=np.float64), IMPURITY_DECREASE
    return None


def tree_importances(estimator: Any, input_shape: tuple[int, ...]) -> tuple[np.ndarray, str] | None:
    """The trees' own importance of each input variable, normalised to sum 1, and what it measures.

    Args:
        estimator: a fitted estimator (a network or any method: those without trees give None).
        input_shape: the shape of one event's inputs: ``(F,)`` for a table of variables,
            ``(P, F)`` for sets of particles (a tree method sees the flattened ``P * F``
            table; the importances of one feature over the ``P`` particle slots are summed).

    Returns:
        ``(importance[F], description)``, or None when the method keeps no importances or its
        trees never split.
    """
    if len(input_shape) not in (1, 2):
        return None
    found = _per_column(estimator, math.prod(input_shape))
    if found is None:
        return None
    values, measure = found
    values = values.reshape(input_shape).reshape(-1, input_shape[-1]).sum(axis=0)  # [F]
    total = float(values.sum())
    if not math.isfinite(total) or total <= 0:
        return None
    return values / total, measure


__all__ = ["IMPURITY_DECREASE", "XGBOOST_GAIN", "tree_importances"]
