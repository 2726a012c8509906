"""Clustering metrics from each sample's cost of belonging to each cluster.

A clustering method predicts ``cost[N, K] >= 0`` for every sample and
cluster; the sample's cluster is the cheapest (``argmin``). The two built-in
costs:

- k-means: the squared distance to each centre, in the standardised input space;
- a Gaussian mixture: the negative log responsibility ``-ln p(k | x)`` of each
  component (0 for a certain member, ``ln 2`` on the boundary of two); the
  cheapest is the most probable component, the mixture's own assignment.

From these alone:

- ``inertia``: weighted mean cost of the chosen cluster (k-means: its
  objective, the mean squared distance to the nearest centre; a mixture: the
  mean ``-ln`` of the largest responsibility, how uncertain the assignments are);
- ``silhouette``: the simplified silhouette, the mean over samples of
  ``(b - a) / max(a, b)`` with ``a`` and ``b`` the square roots of the cheapest
  and second-cheapest costs (1: well separated, 0: on a boundary; for k-means
  the distances to the nearest and second-nearest centre);
- with labels (when the data carry ``y``, used only here): ``adjusted_rand``
  (the adjusted Rand index of clusters against classes, 0 for chance, 1 for
  identical partitions) and ``purity`` (fraction of samples in their
  cluster's majority class).

The label-free numbers compare methods of one kind; between k-means and a
mixture, compare ``adjusted_rand`` and ``purity``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight


def clustering_metrics(y: ArrayLike | None, distance: ArrayLike, weight: ArrayLike | None = None) -> dict[str, float]:
    """``inertia`` and ``silhouette``, and with labels ``adjusted_rand`` and ``purity``."""
    d = as_finite("distance", distance, ndim=(2,))
    if d.shape[1] < 2:
        raise UserError(f"distance: expected the costs of at least 2 clusters, received shape {d.shape}")
    w = as_weight(weight, len(d))
    nearest = np.sort(np.sqrt(np.maximum(d, 0.0)), axis=1)
    a, b = nearest[:, 0], nearest[:, 1]
    silhouette = np.where(b > 0, (b - a) / np.maximum(b, 1e-300), 0.0)
    metrics = {"inertia": float(np.sum(w * a**2) / np.sum(w)),
               "silhouette": float(np.sum(w * silhouette) / np.sum(w))}
    if y is not None:
        labels = np.asarray(y).reshape(-1)
        if labels.shape[0] != len(d):
            raise UserError(f"y: expected {len(d)} labels (one per sample), received {labels.shape[0]}")
        clusters = np.argmin(d, axis=1)
        metrics["adjusted_rand"] = adjusted_rand(labels, clusters)
        metrics["purity"] = purity(labels, clusters)
    return metrics


def _contingency(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    _, label_index = np.unique(labels, return_inverse=True)
    _, cluster_index = np.unique(clusters, return_inverse=True)
    table = np.zeros((label_index.max() + 1, cluster_index.max() + 1), dtype=np.int64)
    np.add.at(table, (label_index, cluster_index), 1)
    return table


def adjusted_rand(labels: ArrayLike, clusters: ArrayLike) -> float:
    """Adjusted Rand index (Hubert and Arabie 1985) of two partitions of the same samples."""
    table = _contingency(np.asarray(labels), np.asarray(clusters))
    pairs = lambda n: n * (n - 1) / 2.0  # noqa: E731
    index = pairs(table).sum()
    rows, columns = pairs(table.sum(axis=1)).sum(), pairs(table.sum(axis=0)).sum()
    expected = rows * columns / max(pairs(table.sum()), 1.0)
    maximum = (rows + columns) / 2.0
    return 1.0 if maximum == expected else float((index - expected) / (maximum - expected))


def purity(labels: ArrayLike, clusters: ArrayLike) -> float:
    """Fraction of samples whose class is the most common class of their cluster."""
    table = _contingency(np.asarray(labels), np.asarray(clusters))
    return float(table.max(axis=0).sum() / table.sum())


__all__ = ["adjusted_rand", "clustering_metrics", "purity"]
