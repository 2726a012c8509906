"""Methods: classical (non-gradient) learners behind the same fit/predict contract.

A method is created by name with keyword parameters, fitted on a training
split (and a validation split, if it uses one) for a task, and predicts task
scores, exactly like a trained network. ``quanta methods`` lists them.
A scikit-learn learner is one short subclass of
:class:`quanta.methods.sklearn.ScikitLearnMethod`.
"""

from __future__ import annotations

from quanta.registry import Registry

METHODS = Registry("method", listing="quanta methods")
METHODS.declare(
    "boosted_trees",
    "quanta.methods.boosted_trees:BoostedTrees",
    "Gradient-boosted decision trees (XGBoost, histogram algorithm) for tabular features",
)
METHODS.declare("logistic_regression", "quanta.methods.logistic_regression:LogisticRegression",
                "Logistic regression (scikit-learn, L-BFGS) on standardised features; linear regression for values")
METHODS.declare("random_forest", "quanta.methods.random_forest:RandomForest",
                "Random forest (scikit-learn): averaged decision trees on bootstrap samples and random feature subsets")
METHODS.declare("kmeans", "quanta.methods.kmeans:KMeans",
                "k-means clustering (scikit-learn) of standardised inputs; needs no labels")


def register(name: str, description: str | None = None):
    """Decorator registering a user method (a subclass of :class:`quanta.methods.base.Method`)."""
    return METHODS.register(name, description)


__all__ = ["METHODS", "register"]
