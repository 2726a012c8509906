"""Evaluate: metrics and figures computed from saved predictions.

Everything here works on NumPy arrays (labels, scores, weights) and returns
plain finite numbers (strict JSON: no ``Infinity`` or ``NaN``; a metric that
is undefined for the data is left out), so a BDT from scikit-learn and a
transformer from PyTorch are measured by the same code::

    from quanta.evaluate.binary import binary_metrics
    binary_metrics(y_test, score_test)
    # {'auc': 0.97, 'accuracy': 0.91,
    #  'rejection_at_0.3': 410.0, 'rejection_at_0.3_error': 35.2,
    #  'rejection_at_0.3_lower_limit': False,
    #  'rejection_at_0.5': 96.3, 'rejection_at_0.5_error': 4.2,
    #  'rejection_at_0.5_lower_limit': False, 'ece': 0.012}

Which metric set belongs to which task is the task's business
(:mod:`quanta.tasks.evaluation`, with ``metrics_for(task, y, score)``).

The metric modules (:mod:`~quanta.evaluate.binary`,
:mod:`~quanta.evaluate.multiclass`, :mod:`~quanta.evaluate.regression`,
:mod:`~quanta.evaluate.clustering`) need
only NumPy (and SciPy for the KS test); :mod:`quanta.evaluate.figures` imports
matplotlib when a figure is drawn. This package never imports torch.
"""

from __future__ import annotations

from quanta.evaluate.binary import binary_metrics
from quanta.evaluate.clustering import clustering_metrics
from quanta.evaluate.images import reconstruction_metrics, segmentation_metrics
from quanta.evaluate.multiclass import multiclass_metrics
from quanta.evaluate.regression import regression_metrics, uncertainty_metrics

#: Which way each metric improves: "max", "min", or "zero" (closest to 0 is best).
METRIC_GOALS: dict[str, str] = {
    "auc": "max",
    "knn_accuracy": "max",
    "anomaly_auc": "max",
    "reconstruction_mse": "min",
    "mahalanobis_squared": "min",
    "classifier_auc": "min",
    "classifier_auc_high_level": "min",
    "separation_power_mean": "min",
    "separation_power_max": "min",
    "wasserstein_mean": "min",
    "accuracy": "max",
    "auc_macro": "max",
    "r2": "max",
    "mse": "min",
    "rmse": "min",
    "mae": "min",
    "resolution": "min",
    "resolution_robust": "min",
    "loss": "min",
    "bias": "zero",
    "psnr": "max",
    "mean_iou": "max",
    "inertia": "min",
    "silhouette": "max",
    "adjusted_rand": "max",
    "purity": "max",
    "ece": "min",
    "gaussian_nll": "min",
    "precision_at_10": "max",
    "probe_accuracy": "max",
    "kendall_tau": "max",
    "spearman_rho": "max",
    "pairwise_accuracy": "max",
    "ndcg": "max",
    "ndcg_at_10": "max",
    "mean_return": "max",
    "median_return": "max",
}

#: Metrics that rank nothing: a coverage is right at its nominal level (68.27 %, 95.45 %),
#: and neither more nor less is better in itself.
UNRANKED = frozenset({"coverage_68", "coverage_95", "episodes"})

#: Metrics that count something (printed as whole numbers)
COUNTS = frozenset({"episodes"})


#: Suffixes of the keys that qualify another metric: ``rejection_at_0.3_error`` is the
#: uncertainty of ``rejection_at_0.3``, ``rejection_at_0.3_lower_limit`` says it is a lower limit,
#: ``_passing_background`` counts the background events it rests on and ``_low_statistics``
#: flags fewer than 20 of them.
COMPANIONS = ("_error", "_lower_limit", "_passing_background", "_low_statistics")


def metric_goal(name: str) -> str | None:
    """"max", "min" or "zero" for a metric name, None when the direction is unknown.

    Background rejections (``rejection_at_<eps_S>``) are maximised; names
    ending in ``_loss`` are minimised. The companions of a metric (its
    uncertainty ``<name>_error``, the flag ``<name>_lower_limit``) and the
    coverages (:data:`UNRANKED`) rank nothing: None.
    """
    if name in UNRANKED:
        return None
    if name in METRIC_GOALS:
        return METRIC_GOALS[name]
    if name.endswith(COMPANIONS):
        return None
    if name.startswith("rejection_at_"):
        return "max"
    if name.endswith("loss"):
        return "min"
    return None


__all__ = ["COMPANIONS", "COUNTS", "METRIC_GOALS", "UNRANKED", "binary_metrics", "clustering_metrics",
           "metric_goal", "multiclass_metrics", "reconstruction_metrics", "regression_metrics",
           "segmentation_metrics", "uncertainty_metrics"]
