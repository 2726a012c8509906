"""Evaluate: metrics and figures computed from saved predictions.

Everything here works on NumPy arrays (labels, scores, weights) and returns
plain floats, so a BDT from scikit-learn and a transformer from PyTorch are
measured by the same code::

    from quanta.evaluate import metrics_for
    metrics_for("binary", y_test, score_test)
    # {'auc': 0.97, 'accuracy': 0.91, 'rejection_at_0.3': 410.0, 'rejection_at_0.5': 96.3}

The metric modules (:mod:`~quanta.evaluate.binary`,
:mod:`~quanta.evaluate.multiclass`, :mod:`~quanta.evaluate.regression`) need
only NumPy (and SciPy for the KS test); :mod:`quanta.evaluate.figures` imports
matplotlib when a figure is drawn. This package never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable

from numpy.typing import ArrayLike

from quanta.errors import unknown_name
from quanta.evaluate.binary import binary_metrics
from quanta.evaluate.images import reconstruction_metrics, segmentation_metrics
from quanta.evaluate.multiclass import multiclass_metrics
from quanta.evaluate.regression import regression_metrics

_METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "binary": binary_metrics,
    "multiclass": multiclass_metrics,
    "regression": regression_metrics,
    "reconstruction": reconstruction_metrics,
    "segmentation": segmentation_metrics,
    "perceptron": binary_metrics,  # scores are 0/1 decisions
}

#: Tasks :func:`metrics_for` knows.
TASKS = tuple(_METRICS)

#: Which way each metric improves: "max", "min", or "zero" (closest to 0 is best).
METRIC_GOALS: dict[str, str] = {
    "auc": "max",
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
}


def metric_goal(name: str) -> str | None:
    """"max", "min" or "zero" for a metric name, None when the direction is unknown.

    Background rejections (``rejection_at_<eps_S>``) are maximised; names
    ending in ``_loss`` are minimised.
    """
    if name in METRIC_GOALS:
        return METRIC_GOALS[name]
    if name.startswith("rejection_at_"):
        return "max"
    if name.endswith("loss"):
        return "min"
    return None


def metrics_for(
    task: str, y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None
) -> dict[str, float]:
    """The standard metrics of ``task`` ("binary", "multiclass" or "regression") on one split.

    Args:
        task: what was learned; selects the metric set.
        y: true labels (int[N]) or targets (float[N] or float[N, T]).
        score: the method's output: float[N] signal probability (binary),
            float[N, K] class scores (multiclass) or the prediction (regression).
        weight: optional float[N] per-sample weights.
    """
    if task not in _METRICS:
        raise unknown_name("task", task, _METRICS)
    return _METRICS[task](y, score, weight)


__all__ = ["METRIC_GOALS", "TASKS", "metric_goal", "metrics_for"]
