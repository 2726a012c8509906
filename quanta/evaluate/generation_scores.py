"""Metrics of a generative model's per-sample scores: how typical each sample is of what it learned.

A generative method (the ``generation`` task: a VAE, a GAN, a WGAN-GP) saves
one score per sample: the VAE its negative evidence lower bound (or its
reconstruction error), a GAN its critic's value. Larger means less like the
training data, so the score is an anomaly score, the use the lectures make of
an autoencoder trained on background only. From the scores alone:

- ``mean_score``: their weighted mean (for a VAE the negative ELBO of the
  split, an upper bound on its mean negative log-likelihood in the units the
  model was trained in);
- with binary labels (when the data carry ``y`` of 0 and 1, used only here):
  ``anomaly_auc``, the area under the ROC curve of the score as a
  discriminant of class 1 (the signal, the anomaly) against class 0: 0.5 is
  blind, 1 separates them. Labels of more classes, or real-valued targets,
  give no AUC; a split with one class only gives none either.

How close generated samples come to the data is measured elsewhere, on the
samples themselves (``generated.json``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.evaluate._inputs import as_finite, as_weight
from quanta.evaluate.binary import auc


def generation_score_metrics(y: ArrayLike | None, score: ArrayLike,
                             weight: ArrayLike | None = None) -> dict[str, float]:
    """``mean_score``, and ``anomaly_auc`` of the score against binary labels ``y`` when given.

    Args:
        y: None, or labels per sample; only integer (or whole) labels of 0 and 1
            with both classes present give ``anomaly_auc``.
        score: float[N], the per-sample score (larger: less typical).
        weight: optional float[N] per-sample weights.
    """
    s = as_finite("score", score)
    w = as_weight(weight, len(s))
    metrics = {"mean_score": float(np.sum(w * s) / np.sum(w))}
    labels = _binary_labels(y, len(s))
    if labels is not None:
        metrics["anomaly_auc"] = auc(labels, s, w)
    return metrics


def _binary_labels(y: ArrayLike | None, n: int) -> np.ndarray | None:
    """``y`` as 0/1 labels of ``n`` samples with both classes present, or None when it is not that."""
    if y is None:
        return None
    labels = np.asarray(y)
    if labels.shape != (n,) or labels.dtype.kind not in "biuf":
        return None
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        return None
    if not np.all(np.isin(labels, (0, 1))) or len(np.unique(labels)) < 2:
        return None
    return labels.astype(np.int64)


__all__ = ["generation_score_metrics"]
