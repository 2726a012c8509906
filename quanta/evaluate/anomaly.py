"""Anomaly-detection metrics of a per-sample anomaly score (an autoencoder's reconstruction error).

An anomaly search trains without labels, or on the background alone, and
gives every sample a score: how badly the autoencoder reconstructs it, or
how far its code lies from the training codes. Large means unusual. From the
scores alone the mean score of a split is known (``reconstruction_mse``, the
mean of the per-sample mean squared errors, or ``mahalanobis_squared`` for
the latent-distance score). When the data carry
binary labels (background 0, the anomaly or signal 1), which are used only
here, the score is a discriminant like any classifier's: its AUC and the
background rejection ``1 / eps_B`` at signal efficiencies 0.3 and 0.5, with
their uncertainties, come from :func:`quanta.evaluate.binary.binary_metrics`
under the same names. Its ``accuracy`` (a cut at 0.5) and ``ece`` (read as a
probability) mean nothing for an unbounded score and are left out, as are
the label metrics when a split lacks one of the two classes or has other labels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight
from quanta.evaluate.binary import binary_metrics

#: binary_metrics' entries that assume a score in [0, 1] with a cut at 0.5
_PROBABILITY_METRICS = ("accuracy", "ece")


def anomaly_metrics(y: ArrayLike | None, score: ArrayLike, weight: ArrayLike | None = None,
                    score_name: str = "reconstruction_mse") -> dict[str, float]:
    """The weighted mean score as ``score_name``; with binary labels, the AUC and background rejections.

    Args:
        y: None, or int[N] labels (1: anomalous / signal, 0: background); other labels
            (more classes) only leave the label metrics out.
        score: float[N], the anomaly score (larger: more anomalous).
        weight: optional float[N] per-sample weights.
        score_name: the key of the mean score.
    """
    s = as_finite("score", score)
    w = as_weight(weight, s.shape[0])
    total = float(np.sum(w))
    metrics = {score_name: float(np.sum(w * s) / total) if total != 0 else float(np.mean(s))}
    if y is None:
        return metrics
    labels = np.asarray(y).reshape(-1)
    if labels.shape[0] != s.shape[0]:
        raise UserError(f"y: expected {s.shape[0]} labels (one per sample), received {labels.shape[0]}")
    present = set(np.unique(labels).tolist())
    if present != {0, 1}:  # no second class, or not a background/anomaly labelling: undefined
        return metrics
    found = binary_metrics(labels.astype(np.int64), s, weight)
    metrics.update({k: v for k, v in found.items() if k not in _PROBABILITY_METRICS})
    return metrics


def mahalanobis_metrics(y: ArrayLike | None, score: ArrayLike,
                        weight: ArrayLike | None = None) -> dict[str, float]:
    """:func:`anomaly_metrics` of the squared Mahalanobis distance of the codes (``mahalanobis_squared``)."""
    return anomaly_metrics(y, score, weight, score_name="mahalanobis_squared")


__all__ = ["anomaly_metrics", "mahalanobis_metrics"]
