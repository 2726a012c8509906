"""Multiclass classification metrics: accuracy, confusion matrix, one-vs-rest AUCs.

A K-class classifier gives each event K scores (probabilities or logits);
the predicted class is the one with the largest score. The confusion matrix
says where the mistakes go (row = true class, column = predicted class, rows
normalised to the fraction of that class). The one-vs-rest AUC of class k
treats class k as signal and all other classes as background, using the
score of class k as the discriminant. When the scores are class
probabilities, their calibration is checked on the top label: of the events
whose highest probability is about 0.8, 80 % should be of that class
(:func:`top_label_reliability`, :func:`top_label_calibration_error`).

Shapes:
    y: int[N] class labels in ``0..K-1``.
    scores: float[N, K], one column per class.
    weight: optional float[N].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_labels, as_weight, same_length
from quanta.evaluate.binary import (
    CALIBRATION_BINS,
    Reliability,
    area_under,
    reliability_curve,
    roc_curve,
)

#: How far a row of class probabilities may sum from 1 (float32 soft-max rounding).
_SUM_TOLERANCE = 1e-3


def _multiclass_inputs(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = as_labels("y", y)
    s = as_finite("scores", scores, ndim=(2,))
    n = same_length(y=labels, scores=s)
    if s.shape[1] < 2:
        raise UserError(f"scores: expected one column per class (K >= 2), received shape {s.shape}")
    if labels.max() >= s.shape[1]:
        raise UserError(
            f"y: label {int(labels.max())} has no score column (scores have {s.shape[1]} classes)"
        )
    return labels, s, as_weight(weight, n)


def accuracy(y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Weighted fraction of events whose highest-scoring class is the true class."""
    labels, s, w = _multiclass_inputs(y, scores, weight)
    correct = np.argmax(s, axis=1) == labels
    return float(np.sum(w[correct]) / np.sum(w))


def confusion_matrix(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None, normalize: bool = True
) -> np.ndarray:
    """Confusion matrix ``C[true, predicted]``, float[K, K].

    With ``normalize=True`` each row is divided by its total, so ``C[i, j]``
    is the fraction of class-``i`` events classified as ``j`` and the diagonal
    holds the per-class efficiencies. A class with no events has a row of
    zeros. With ``normalize=False`` the entries are (weighted) event counts.
    """
    labels, s, w = _multiclass_inputs(y, scores, weight)
    k = s.shape[1]
    predicted = np.argmax(s, axis=1)
    counts = np.zeros((k, k), dtype=np.float64)
    np.add.at(counts, (labels, predicted), w)
    if not normalize:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals != 0)


def one_vs_rest_roc(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The ROC curve of each class against all others: ``{k: (eff_s, eff_b)}``.

    Class ``k`` is the signal, every other class the background, and the score
    of column ``k`` the discriminant (see :func:`quanta.evaluate.binary.roc_curve`;
    weighted when ``weight`` is given). Classes absent from ``y``, or that are
    every event, have no curve and are left out.
    """
    labels, s, w = _multiclass_inputs(y, scores, weight)
    curves = {}
    for k in range(s.shape[1]):
        is_k = labels == k
        if is_k.any() and not is_k.all() and np.sum(w[is_k]) > 0 and np.sum(w[~is_k]) > 0:
            eff_s, eff_b, _ = roc_curve(is_k.astype(np.int64), s[:, k], w)
            curves[k] = (eff_s, eff_b)
    return curves


def one_vs_rest_auc(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None
) -> np.ndarray:
    """AUC of each class against all others, float[K]; NaN for a class without a ROC curve
    (absent from ``y``, or every event)."""
    k = np.shape(scores)[1] if np.ndim(scores) == 2 else 0
    aucs = np.full(k, np.nan)
    for cls, (eff_s, eff_b) in one_vs_rest_roc(y, scores, weight).items():
        aucs[cls] = area_under(eff_b, eff_s)
    return aucs


def are_probabilities(scores: np.ndarray) -> bool:
    """Whether float[N, K] scores are class probabilities: in [0, 1], each row summing to 1."""
    rows = np.sum(scores, axis=1)
    return bool(scores.size and scores.min() >= 0.0 and scores.max() <= 1.0
                and np.all(np.abs(rows - 1.0) <= _SUM_TOLERANCE))


def top_label_reliability(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None, bins: int = CALIBRATION_BINS
) -> Reliability:
    """Reliability curve of the top label: accuracy against confidence, per confidence bin.

    The confidence of an event is its highest class probability, and it is
    right when that class is the true one; the curve of
    :func:`quanta.evaluate.binary.reliability_curve` of (right, confidence)
    lies on the diagonal for calibrated probabilities. Confidences are at
    least ``1 / K``, so the low bins of K classes stay empty.
    """
    labels, s, w = _multiclass_inputs(y, scores, weight)
    if not are_probabilities(s):
        raise UserError("scores: a reliability curve needs class probabilities (each in [0, 1], "
                        "each row summing to 1), not logits or other scores")
    right = (np.argmax(s, axis=1) == labels).astype(np.int64)
    return reliability_curve(right, s.max(axis=1), w, bins)


def top_label_calibration_error(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None, bins: int = CALIBRATION_BINS
) -> float:
    """Top-label expected calibration error: ``sum_b (W_b / W) |accuracy_b - confidence_b|``.

    0 for calibrated class probabilities, lower is better; NaN when no bin
    holds a positive sum of weights.
    """
    return top_label_reliability(y, scores, weight, bins).calibration_error()


def multiclass_metrics(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None
) -> dict[str, float]:
    """The summary of a multiclass classifier on one split.

    Returns:
        ``{"accuracy", "auc_macro", "ece"}``: accuracy of the arg-max class,
        the unweighted mean of the one-vs-rest AUCs over the classes present,
        and the top-label expected calibration error
        (:func:`top_label_calibration_error`). ``auc_macro`` is left out when
        no class has an AUC (every event of one class), ``ece`` when the
        scores are not class probabilities, so that every value is finite.
    """
    aucs = one_vs_rest_auc(y, scores, weight)
    present = aucs[~np.isnan(aucs)]
    metrics = {"accuracy": accuracy(y, scores, weight)}
    if present.size:
        metrics["auc_macro"] = float(present.mean())
    if are_probabilities(np.asarray(scores, dtype=np.float64)):
        ece = top_label_calibration_error(y, scores, weight)
        if np.isfinite(ece):
            metrics["ece"] = ece
    return metrics


__all__ = ["accuracy", "are_probabilities", "confusion_matrix", "multiclass_metrics",
           "one_vs_rest_auc", "one_vs_rest_roc", "top_label_calibration_error",
           "top_label_reliability"]
