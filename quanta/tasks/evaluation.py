"""How each task is evaluated, without torch: metrics, figures, prediction columns, direction.

A task's evaluation is what the experiment, the report and ``quanta predict``
ask of it after training: the metrics of saved predictions (NumPy floats),
the report figures that suit them (by figure name, drawn by the report), the
prefix of the prediction columns, the kind of output a classical method must
give (``output``) and whether it needs targets at all. Every :class:`Task`
points at one :class:`Evaluation` (its ``evaluation`` attribute); the report
reads a run directory without importing torch, so it looks the evaluation up
here by the task's name. This table is the one place task names are matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError, unknown_name
from quanta.evaluate.anomaly import anomaly_metrics
from quanta.evaluate.binary import binary_metrics
from quanta.evaluate.clustering import clustering_metrics
from quanta.evaluate.embedding import embedding_metrics
from quanta.evaluate.generation_scores import generation_score_metrics
from quanta.evaluate.images import reconstruction_metrics, segmentation_metrics
from quanta.evaluate.metric_learning import metric_learning_metrics
from quanta.evaluate.multiclass import multiclass_metrics
from quanta.evaluate.ordering import ordering_metrics
from quanta.evaluate.regression import regression_metrics, uncertainty_metrics
from quanta.evaluate.returns import return_metrics

#: the kinds of output a task's scores have; a classical method maps them to its learner
OUTPUTS = ("signal_probability", "class_probabilities", "values", "images", "class_maps", "clusters", "codes",
           "anomaly_scores", "heads", "returns")


@dataclass(frozen=True)
class Evaluation:
    """What evaluation asks of one task.

    Attributes:
        metrics: ``(y, score, weight) -> {name: float}`` on one split.
        output: what the scores are (one of :data:`OUTPUTS`).
        figures: the report's figures for this task, by name (``quanta.report.figures``).
        prediction: prefix of prediction columns (``score_<method>`` or ``prediction_<method>``).
        needs_targets: False for unsupervised tasks (``y`` is then optional, used only to evaluate).
        uncertainty_metrics: ``(y, score, uncertainty, weight) -> {name: float}`` for a
            method that also predicts the standard deviation of each score (in the units of
            ``y``); None when the task's scores carry no uncertainty.
    """

    metrics: Callable[..., dict[str, float]]
    output: str
    figures: tuple[str, ...] = ()
    prediction: str = "score"
    needs_targets: bool = True
    uncertainty_metrics: Callable[..., dict[str, float]] | None = None


BINARY = Evaluation(binary_metrics, "signal_probability", ("roc_curves", "score_distributions",
                                                          "score_distributions_log", "reliability"))
MULTICLASS = Evaluation(multiclass_metrics, "class_probabilities",
                        ("confusion_matrices", "one_vs_rest_roc", "reliability"))
REGRESSION = Evaluation(regression_metrics, "values", ("residuals", "resolution",
                                                     "predicted_vs_true", "coverage",
                                                     "pulls", "predictive_bands"),
                        prediction="prediction", uncertainty_metrics=uncertainty_metrics)
RECONSTRUCTION = Evaluation(reconstruction_metrics, "images", prediction="prediction")
SEGMENTATION = Evaluation(segmentation_metrics, "class_maps")
CLUSTERING = Evaluation(clustering_metrics, "clusters", prediction="cluster", needs_targets=False)
AUTOENCODING = Evaluation(anomaly_metrics, "anomaly_scores", ("roc_curves", "score_distributions_log"), needs_targets=False)  # noqa: E501
GENERATION = Evaluation(generation_score_metrics, "anomaly_scores", needs_targets=False)  # per-sample scores
EMBEDDING = Evaluation(embedding_metrics, "codes", ("embedding_map", "explained_variance"), prediction="code", needs_targets=False)
# a learned embedding: retrieval, a linear probe and uniformity (labels only evaluate); its map
METRIC_LEARNING = Evaluation(metric_learning_metrics, "codes",
                             ("embedding_projection", "retrieval_precision"), prediction="code",
                             needs_targets=False)
# a ranking score orders; any regressor's prediction is such a score (classical methods regress y)
RANKING = Evaluation(ordering_metrics, "values", ("rank_scatter", "top_selection"))
# an agent's scores are the returns of a part's episodes; figures: learning curves, the test returns
REINFORCEMENT = Evaluation(return_metrics, "returns", ("learning_curves", "episode_returns"),
                           prediction="return", needs_targets=False)



def _per_head(y, score, weight=None):
    raise UserError("task 'multitask': predictions are evaluated head by head, each with its own task's metrics")


MULTITASK = Evaluation(_per_head, "heads")  # Task.evaluation_heads gives each head its task's evaluation

EVALUATIONS: dict[str, Evaluation] = {
    "binary": BINARY,
    "multiclass": MULTICLASS,
    "regression": REGRESSION,
    "reconstruction": RECONSTRUCTION,
    "segmentation": SEGMENTATION,
    "perceptron": BINARY,  # scores are 0/1 decisions
    "clustering": CLUSTERING,
    "autoencoding": AUTOENCODING,
    "generation": GENERATION,
    "embedding": EMBEDDING,
    "multitask": MULTITASK,
    "cwola": BINARY,  # scored against the true labels of the test split
    "label_proportions": BINARY,
    "semi_supervised": BINARY,
    "metric_learning": METRIC_LEARNING,
    "ranking": RANKING,
    "reinforcement": REINFORCEMENT,
}


def evaluation_of(task: str) -> Evaluation:
    """The evaluation of a task by name, or a one-line error suggesting the closest."""
    if task not in EVALUATIONS:
        raise unknown_name("task", task, EVALUATIONS)
    return EVALUATIONS[task]


def metrics_for(task: str, y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> dict[str, float]:
    """The standard metrics of ``task`` ("binary", "multiclass", "regression", ...) on one split.

    Args:
        task: what was learned; selects the metric set.
        y: true labels (int[N]) or targets (float[N] or float[N, T]).
        score: the method's output: float[N] signal probability (binary),
            float[N, K] class scores (multiclass) or the prediction (regression).
        weight: optional float[N] per-sample weights.

    Example::

        from quanta.tasks.evaluation import metrics_for
        metrics_for("binary", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["auc"]  # 0.75
    """
    return evaluation_of(task).metrics(y, score, weight)


def infer_task(scores: list[tuple[np.ndarray, np.ndarray]], metric_names: set[str]) -> str | None:
    """Guess the task of a run whose config does not name it, from ``(y, score)`` pairs or metric names."""
    for y, score in scores:
        if score.ndim == 2 and score.shape[1] > 1:
            return "multiclass"
        if np.isin(np.unique(y), (0, 1)).all() and score.ndim == 1:
            return "binary"
        return "regression"
    if "auc" in metric_names:
        return "binary"
    if "auc_macro" in metric_names:
        return "multiclass"
    if metric_names & {"mse", "rmse", "r2"}:
        return "regression"
    return None


def per_element(arrays: dict[str, np.ndarray], y: np.ndarray | None,
                score: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Targets, scores and weights as evaluation wants them: one row per scored element.

    Per-sample targets pass through. Per-element targets (sequence steps, graph
    edges) keep their unmasked elements, each with its sample's weight;
    per-element regression targets such as images become one row per sample.
    """
    weight = arrays.get("weight")
    if y is None:  # an unsupervised task on data without labels
        return None, score, weight
    if "target_mask" in arrays and arrays["target_mask"].shape == y.shape[:arrays["target_mask"].ndim]:
        keep = arrays["target_mask"].astype(bool)
        if weight is not None:
            weight = np.broadcast_to(weight.reshape(-1, *([1] * (keep.ndim - 1))), keep.shape)[keep]
        return y[keep], score[keep], weight
    if y.ndim > 2:
        return y.reshape(len(y), -1), score.reshape(len(y), -1), weight
    return y, score, weight


__all__ = ["EVALUATIONS", "OUTPUTS", "Evaluation", "evaluation_of", "infer_task", "metrics_for",
           "per_element"]
