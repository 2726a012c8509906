"""Methods: classical (non-gradient) learners behind the same fit/predict contract.

A method is created by name with keyword parameters, fitted on a training
split (and a validation split, if it uses one) for a task, and predicts task
scores, exactly like a trained network. ``quanta methods`` lists them.
A scikit-learn learner is one short subclass of
:class:`quanta.methods.sklearn.ScikitLearnMethod`; every one of them takes the
input encodings ``one_hot`` and ``bag_of_words`` (:mod:`quanta.methods.encoding`).
``boosted_trees`` and ``sgd`` learn from a training part streamed from disk.
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
                "Logistic regression (scikit-learn; L2, L1 or elastic-net penalty); ridge or lasso "
                "for values")
METHODS.declare("random_forest", "quanta.methods.random_forest:RandomForest",
                "Random forest (scikit-learn): averaged decision trees on bootstrap samples and random feature subsets")
METHODS.declare("kmeans", "quanta.methods.kmeans:KMeans",
                "k-means clustering (scikit-learn) of standardised inputs; needs no labels")
METHODS.declare("gaussian_mixture", "quanta.methods.gaussian_mixture:GaussianMixture",
                "Gaussian mixture clustering (scikit-learn, EM) of standardised inputs; needs no labels")
METHODS.declare("pca", "quanta.methods.pca:PCA",
                "Principal component analysis (scikit-learn): the first directions of largest variance")
METHODS.declare("svm", "quanta.methods.svm:SVM",
                "Support-vector machine (scikit-learn, libsvm): the widest-margin boundary in a "
                "kernel's space")
METHODS.declare("kernel_map", "quanta.methods.kernel_map:KernelMap",
                "Kernel feature map (Nystroem or random Fourier) before a linear model: kernels "
                "for 10^6 rows")
METHODS.declare("knn", "quanta.methods.knn:KNearestNeighbours",
                "k-nearest neighbours (scikit-learn) of standardised inputs: vote or mean of the k "
                "closest")
METHODS.declare("decision_tree", "quanta.methods.decision_tree:DecisionTree",
                "Decision tree (scikit-learn, CART): nested cuts on one feature at a time; one "
                "readable model")
METHODS.declare("extra_trees", "quanta.methods.extra_trees:ExtraTrees",
                "Extremely randomised trees (scikit-learn): averaged trees with random cut "
                "thresholds")
METHODS.declare("adaboost", "quanta.methods.adaboost:AdaBoost",
                "AdaBoost (scikit-learn, SAMME and AdaBoost.R2) over shallow decision trees")
METHODS.declare("sgd", "quanta.methods.sgd:SGD",
                "Linear model trained by stochastic gradient descent (scikit-learn); learns from "
                "streamed data too")
METHODS.declare("hist_boosting", "quanta.methods.hist_boosting:HistBoosting",
                "Histogram gradient-boosted trees (scikit-learn's HistGradientBoosting, as "
                "LightGBM)")
METHODS.declare("independent_gaussians", "quanta.methods.independent_gaussians:IndependentGaussians", "Independent Gaussians per input element, optionally in bins of a condition: the generative baseline")  # noqa: E501
METHODS.declare("gaussian_process", "quanta.methods.gaussian_process:GaussianProcess",
                "Gaussian-process regression (GPyTorch): predictive mean and band; per-point "
                "measurement noise")

METHODS.declare("ensemble", "quanta.ensemble:Ensemble",
                "Ensemble of a run's methods: average of their scores (deep ensembles) or "
                "stacking")


def register(name: str, description: str | None = None):
    """Decorator registering a user method (a subclass of :class:`quanta.methods.base.Method`)."""
    return METHODS.register(name, description)


__all__ = ["METHODS", "register"]
