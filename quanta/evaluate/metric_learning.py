"""How good a learned embedding is: retrieval of same-class neighbours, a linear probe, uniformity.

Metric learning gives every sample a point ``codes[N, d]`` of an embedding
(task ``metric_learning``). Its labels, when the data carry them, are used
here only, to judge the embedding:

- ``precision_at_<k>`` (k = :data:`RETRIEVAL_K`): k-nearest-neighbour
  retrieval, the fraction of each sample's k nearest neighbours (Euclidean,
  itself excluded) that share its class, averaged over the samples; on at most
  :data:`RETRIEVAL_ROWS` samples evenly spaced through the split. A random
  embedding of balanced classes scores about 1 / (number of classes);
- ``knn_accuracy``: the majority vote of the 5 nearest neighbours
  (:func:`quanta.evaluate.embedding.knn_accuracy`);
- ``probe_accuracy``: a linear probe, the accuracy of a logistic regression
  (scikit-learn, L2 with C = 1, on the standardised codes) by two-fold
  cross-fitting: the split's samples (at most :data:`PROBE_ROWS`) are halved at
  random with a fixed seed, a probe fitted on each half scores the other, and
  the accuracy is over all scored samples. How much of the class a linear cut
  of the embedding holds, the usual measure of a self-supervised
  representation (SimCLR, JetCLR);
- ``uniformity`` (no labels needed): log of the mean of exp(-2 |u_i - u_j|^2)
  over pairs of the codes projected onto the unit sphere (Wang and Isola,
  arXiv:2005.10242): from 0 (every code in one point) down to about -4 for
  codes spread evenly; a diagnostic of collapse, not ranked.

With weights, the retrieval precision and the accuracies are weighted means
(the probe is fitted with the weights too).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight
from quanta.evaluate.embedding import knn_accuracy

#: neighbours retrieved per sample in ``precision_at_<k>``, and the most samples compared
RETRIEVAL_K = 10
RETRIEVAL_ROWS = 2000
#: the most samples the linear probe is fitted and scored on
PROBE_ROWS = 10_000
#: the seed of the probe's halving (the same halves for every method of a run)
PROBE_SEED = 0
#: the most samples in the uniformity's pairs
UNIFORMITY_ROWS = 2000


def metric_learning_metrics(y: ArrayLike | None, codes: ArrayLike,
                            weight: ArrayLike | None = None) -> dict[str, float]:
    """``uniformity``, and with labels ``precision_at_<k>``, ``knn_accuracy`` and ``probe_accuracy``."""
    z = as_finite("codes", codes, ndim=(1, 2))
    z = z.reshape(len(z), -1).astype(np.float64)
    w = as_weight(weight, len(z))
    metrics: dict[str, float] = {}
    if len(z) > 1:
        metrics["uniformity"] = uniformity(z)
    if y is None:
        return metrics
    labels = np.asarray(y).reshape(-1)
    if labels.shape[0] != len(z):
        raise UserError(f"y: expected {len(z)} labels (one per sample), received {labels.shape[0]}")
    if len(z) > RETRIEVAL_K:
        metrics[f"precision_at_{RETRIEVAL_K}"] = retrieval_precision(labels, z, w)
        metrics["knn_accuracy"] = knn_accuracy(labels, z, w)
    probe = probe_accuracy(labels, z, w)
    if probe is not None:
        metrics["probe_accuracy"] = probe
    return metrics


def _spread(count: int, rows: int) -> np.ndarray:
    """At most ``rows`` indices evenly spaced through ``count`` samples (the same every time)."""
    return np.unique(np.linspace(0, count - 1, min(rows, count)).astype(np.int64))


def _squared_distances(z: np.ndarray) -> np.ndarray:
    squared = np.sum(z**2, axis=1)
    return np.maximum(squared[:, None] + squared[None, :] - 2.0 * z @ z.T, 0.0)


def retrieval_precision(labels: ArrayLike, codes: ArrayLike, weight: ArrayLike | None = None,
                        k: int = RETRIEVAL_K, rows: int = RETRIEVAL_ROWS) -> float:
    """Mean fraction of each sample's ``k`` nearest neighbours in ``codes`` that share its label.

    Neighbours are searched among the same ``rows`` samples (evenly spaced
    through the split), a sample never being its own neighbour; with
    ``weight``, the mean over samples is weighted.
    """
    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y, w = np.asarray(labels).reshape(-1), as_weight(weight, len(z))
    keep = _spread(len(z), rows)
    z, y, w = z[keep], y[keep], w[keep]
    k = min(k, len(z) - 1)
    distance = _squared_distances(z)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
    same = np.mean(y[nearest] == y[:, None], axis=1)
    return float(np.sum(w * same) / np.sum(w))


def retrieval_curve(labels: ArrayLike, codes: ArrayLike, k_max: int = 50,
                    rows: int = RETRIEVAL_ROWS) -> tuple[np.ndarray, np.ndarray, float]:
    """Precision at k for k = 1..``k_max`` (unweighted), and the precision of a random embedding.

    Returns ``(k, precision_at_k, chance)``, chance being the sum of the
    squared class fractions (a random neighbour's class matches with that
    probability); the samples are those of :func:`retrieval_precision`.
    """
    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y = np.asarray(labels).reshape(-1)
    keep = _spread(len(z), rows)
    z, y = z[keep], y[keep]
    k_max = max(1, min(k_max, len(z) - 1))
    distance = _squared_distances(z)
    np.fill_diagonal(distance, np.inf)
    nearest = np.argpartition(distance, k_max - 1, axis=1)[:, :k_max]
    order = np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1)
    nearest = np.take_along_axis(nearest, order, axis=1)  # nearest first
    same = (y[nearest] == y[:, None]).mean(axis=0)  # [k_max]: the k-th neighbour's agreement
    k = np.arange(1, k_max + 1)
    _, counts = np.unique(y, return_counts=True)
    return k, np.cumsum(same) / k, float(np.sum((counts / len(y)) ** 2))


def probe_accuracy(labels: ArrayLike, codes: ArrayLike, weight: ArrayLike | None = None,
                   rows: int = PROBE_ROWS, seed: int = PROBE_SEED) -> float | None:
    """Two-fold cross-fitted accuracy of a logistic regression on ``codes``; None when undefined.

    Undefined when a half holds a single class (nothing to separate) or fewer
    than two samples.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    y, w = np.asarray(labels).reshape(-1), as_weight(weight, len(z))
    keep = _spread(len(z), rows)
    z, y, w = z[keep], y[keep], w[keep]
    order = np.random.default_rng(seed).permutation(len(z))
    halves = order[: len(z) // 2], order[len(z) // 2:]
    correct, total = 0.0, 0.0
    for fit, score in (halves, halves[::-1]):
        if len(fit) < 2 or len(score) == 0 or len(np.unique(y[fit])) < 2:
            return None
        scaler = StandardScaler().fit(z[fit])
        probe = LogisticRegression(C=1.0, max_iter=1000)
        probe.fit(scaler.transform(z[fit]), y[fit], sample_weight=w[fit])
        hit = probe.predict(scaler.transform(z[score])) == y[score]
        correct += float(np.sum(w[score] * hit))
        total += float(np.sum(w[score]))
    return correct / total if total > 0 else None


def uniformity(codes: ArrayLike, rows: int = UNIFORMITY_ROWS) -> float:
    """log mean exp(-2 |u_i - u_j|^2) over pairs i != j of the codes ``u`` on the unit sphere."""
    z = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)[_spread(len(codes), rows)]
    u = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    pairs = -2.0 * _squared_distances(u)[np.triu_indices(len(u), k=1)]
    top = np.max(pairs)
    return float(top + np.log(np.mean(np.exp(pairs - top))))


__all__ = ["PROBE_ROWS", "RETRIEVAL_K", "RETRIEVAL_ROWS", "metric_learning_metrics", "probe_accuracy",
           "retrieval_curve", "retrieval_precision", "uniformity"]
