"""Embedding metrics from the codes of each sample (dimensionality reduction, latent spaces).

A dimensionality-reduction method (PCA) or an encoding network predicts
``codes[N, k]``: the position of every sample in a space of ``k`` dimensions.
From these alone:

- ``code_variance_<i>``: the weighted variance of code ``i`` (the first
  :data:`REPORTED_CODES`); for PCA without whitening, the variance the
  component explains, in the (standardised) inputs' units;
- with labels (when the data carry ``y``, used only here): ``knn_accuracy``,
  how often the majority class of a sample's :data:`NEIGHBOURS` nearest
  neighbours in the embedding is its own class (leave-one-out, on at most
  :data:`KNN_ROWS` samples of the split): how well an embedding learned
  without labels keeps the classes apart.

A PCA's explained variance *ratio* needs the inputs' total variance, which
the codes do not hold: the method writes it into its folder
(:data:`EXPLAINED_VARIANCE_FILE`), where the report reads it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight

#: a method folder's record of the variance each component explains (PCA)
EXPLAINED_VARIANCE_FILE = "explained_variance.json"
#: codes whose variance is a metric (the first ones)
REPORTED_CODES = 10
#: neighbours that vote in ``knn_accuracy``, and the most samples it compares
NEIGHBOURS = 5
KNN_ROWS = 2000


def embedding_metrics(y: ArrayLike | None, codes: ArrayLike, weight: ArrayLike | None = None) -> dict[str, float]:
    """``code_variance_<i>`` of the first codes, and with labels ``knn_accuracy``."""
    z = as_finite("codes", codes, ndim=(1, 2))
    z = z.reshape(len(z), -1)
    w = as_weight(weight, len(z))
    total = np.sum(w)
    metrics: dict[str, float] = {}
    if len(z) > 1 and total > 0:
        mean = (w @ z) / total
        variance = (w @ (z - mean) ** 2) / total
        metrics.update({f"code_variance_{i + 1}": float(v)
                        for i, v in enumerate(variance[:REPORTED_CODES])})
    if y is not None:
        labels = np.asarray(y).reshape(-1)
        if labels.shape[0] != len(z):
            raise UserError(f"y: expected {len(z)} labels (one per sample), received {labels.shape[0]}")
        if len(z) > NEIGHBOURS:
            metrics["knn_accuracy"] = knn_accuracy(labels, z, w)
    return metrics


def knn_accuracy(labels: ArrayLike, codes: ArrayLike, weight: ArrayLike | None = None,
                 neighbours: int = NEIGHBOURS, rows: int = KNN_ROWS) -> float:
    """Leave-one-out accuracy of a ``neighbours``-nearest-neighbour vote of the labels in ``codes``.

    At most ``rows`` samples take part, evenly spaced through the split (the
    same ones every time); ties of the vote go to the smallest label. With
    ``weight``, the fraction is of the samples' weights.
    """
    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y = np.asarray(labels).reshape(-1)
    w = as_weight(weight, len(z))
    keep = np.unique(np.linspace(0, len(z) - 1, min(rows, len(z))).astype(np.int64))
    z, y, w = z[keep], y[keep], w[keep]
    k = min(neighbours, len(z) - 1)
    squared = np.sum(z**2, axis=1)
    distance = squared[:, None] + squared[None, :] - 2.0 * z @ z.T
    np.fill_diagonal(distance, np.inf)  # a sample does not vote for itself
    nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
    classes, index = np.unique(y, return_inverse=True)
    votes = np.zeros((len(z), len(classes)))
    np.add.at(votes, (np.repeat(np.arange(len(z)), k), index[nearest].ravel()), 1.0)
    correct = np.argmax(votes, axis=1) == index
    return float(np.sum(w * correct) / np.sum(w))


__all__ = ["EXPLAINED_VARIANCE_FILE", "embedding_metrics", "knn_accuracy"]
