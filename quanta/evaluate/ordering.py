"""Metrics of an order: does a score sort the samples as their target does?

A ranking method is judged by the order its score puts the samples in, not
by the score's values: any score that grows with the target (a particle's
radius, a shower's energy) ranks perfectly, whatever its units. The metrics:

- Kendall's tau (tau-b): over all pairs of samples, the pairs the score orders
  like the target (concordant, C) minus those it orders the other way (D),
  ``tau = (C - D) / sqrt((N0 - N_y)(N0 - N_s))`` with N0 pairs in all and
  N_y (N_s) pairs tied in the target (score); 1 for the same order, -1 for
  the reversed one, 0 for an order unrelated to the target.
- the pairwise accuracy: of the pairs with different targets, the fraction
  the score orders correctly (a tie in the score counts one half), what the
  pairwise logistic loss of RankNet trains; 0.5 is a random order.
- Spearman's rho: the correlation coefficient of the ranks.
- NDCG (normalised discounted cumulative gain, Jarvelin and Kekalainen 2002):
  the samples in the score's order, the one at position r = 1, 2, ... (best
  first) adding its gain ``g / log2(r + 1)``, divided by the same sum in the
  ideal order. A real target has no graded relevance of its own, so the gain
  is the target's normalised rank in its list, ``g = (rank - 1) / (n - 1)``
  (0 for the smallest target, 1 for the largest, mid-ranks for ties): the
  metric then depends on the order of the targets only, like tau and rho.
  ``ndcg`` sums over the whole list, ``ndcg_at_10`` over its first ten
  places (are the ten highest scores the largest targets?). A random order
  already reaches about 0.75 on the whole list, so tau is the summary and
  NDCG the view of the top.

With query groups (``group``: e.g. the samples of one run or one sample
holder) every group is a list of its own: pairs and NDCG never mix groups,
and each metric is the mean over the groups whose targets differ. Event
weights weigh a pair by ``w_i w_j`` in tau and the pairwise accuracy, a
sample in rho's ranks and correlation; NDCG treats every sample as one place
of the list and does not read them. A weighted list of more than
:data:`EXACT_PAIRS` samples has its pairs sampled (:data:`SAMPLED_PAIRS`
pairs, a fixed seed: the statistical error of tau is below 0.001); without
weights tau comes exactly from SciPy's ``kendalltau``.

References: M. G. Kendall, Biometrika 30 (1938) 81; K. Jarvelin, J. Kekalainen,
ACM Trans. Inf. Syst. 20 (2002) 422; C. Burges et al., "Learning to rank using
gradient descent", ICML 2005.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight, same_length

#: the places of the list ``ndcg_at_<TOP>`` sums over
TOP = 10
#: up to this many samples the pairs of a weighted list are all summed
EXACT_PAIRS = 4096
#: the pairs drawn from a larger weighted list
SAMPLED_PAIRS = 1 << 21
_ROWS = 256  # rows of the pair matrix summed at once


class PairSums(NamedTuple):
    """Weighted sums over the pairs of one list (unit weights: counts of pairs)."""

    concordance: float  # C - D: ordered like the target minus ordered the other way
    target_untied: float  # pairs with different targets
    score_untied: float  # pairs with different scores
    score_ties: float  # pairs with different targets and equal scores


def _tied_pairs(keys: np.ndarray, weight: np.ndarray) -> float:
    """``sum_{i<j} w_i w_j`` over the pairs whose keys are equal (rows of ``keys`` for several)."""
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    total = np.bincount(inverse, weights=weight)
    squares = np.bincount(inverse, weights=weight**2)
    return float(np.sum(total**2 - squares) / 2)


def _sums_over(y, s, w, i, j, counted=1.0) -> np.ndarray:
    """The four :class:`PairSums` over the pairs (i, j) (index arrays that broadcast), as float[4];
    ``counted`` (broadcast alike) is 0 for a pair to leave out."""
    dy, ds = np.sign(y[i] - y[j]), np.sign(s[i] - s[j])
    pw = w[i] * w[j] * counted
    return np.array(
        [
            np.sum(pw * dy * ds),
            np.sum(pw * (dy != 0)),
            np.sum(pw * (ds != 0)),
            np.sum(pw * ((dy != 0) & (ds == 0))),
        ]
    )


def pair_sums(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> PairSums:
    """The :class:`PairSums` of one list: exact without weights and for up to
    :data:`EXACT_PAIRS` weighted samples, else estimated on :data:`SAMPLED_PAIRS` drawn pairs."""
    n = len(y)
    if weight is None:
        from scipy.stats import kendalltau

        ones = np.ones(n)
        total = n * (n - 1) / 2
        target_untied = total - _tied_pairs(y[:, None], ones)
        score_untied = total - _tied_pairs(score[:, None], ones)
        both_tied = _tied_pairs(np.stack([y, score], axis=1), ones)
        score_ties = total - score_untied - both_tied  # tied in the score but not in the target
        concordance = 0.0
        if target_untied > 0 and score_untied > 0:
            concordance = float(kendalltau(y, score).statistic) * math.sqrt(
                target_untied * score_untied
            )
        return PairSums(concordance, target_untied, score_untied, score_ties)
    if n <= EXACT_PAIRS:
        sums = np.zeros(4)
        every = np.arange(n)[None, :]
        for start in range(0, n, _ROWS):
            rows = np.arange(start, min(start + _ROWS, n))[:, None]
            sums += _sums_over(
                y, score, weight, rows, every, counted=every > rows
            )  # each pair once
        return PairSums(*(float(v) for v in sums))
    rng = np.random.default_rng(20050807)
    i, j = rng.integers(n, size=SAMPLED_PAIRS), rng.integers(n, size=SAMPLED_PAIRS)
    keep = i != j
    return PairSums(*(float(v) for v in _sums_over(y, score, weight, i[keep], j[keep])))


def _tau(sums: PairSums) -> float:
    if sums.target_untied <= 0 or sums.score_untied <= 0:
        return math.nan
    return min(1.0, max(-1.0, sums.concordance / math.sqrt(sums.target_untied * sums.score_untied)))


def _accuracy(sums: PairSums) -> float:
    if sums.target_untied <= 0:
        return math.nan
    concordant = (sums.target_untied - sums.score_ties + sums.concordance) / 2
    return (concordant + sums.score_ties / 2) / sums.target_untied


def mid_ranks(values: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Each value's rank among ``values``: the weight below it plus half the weight equal to it
    (unit weights: the mid-rank minus 1/2, so ties share the mean of their places)."""
    w = np.ones(len(values)) if weight is None else weight
    unique, inverse = np.unique(values, return_inverse=True)
    at = np.bincount(inverse, weights=w, minlength=len(unique))
    below = np.cumsum(at) - at
    return (below + at / 2)[inverse]


def _spearman(y: np.ndarray, score: np.ndarray, w: np.ndarray) -> float:
    a, b = mid_ranks(y, w), mid_ranks(score, w)
    a, b = a - np.average(a, weights=w), b - np.average(b, weights=w)
    spread = math.sqrt(np.average(a**2, weights=w) * np.average(b**2, weights=w))
    return float(np.average(a * b, weights=w) / spread) if spread > 0 else math.nan


def gains(y: np.ndarray) -> np.ndarray:
    """NDCG's gain of every sample: its target's normalised rank in the list, in [0, 1]."""
    return (mid_ranks(y) - 0.5) / max(len(y) - 1, 1)


def ndcg(y: ArrayLike, score: ArrayLike, top: int | None = None) -> float:
    """NDCG of one list (over its first ``top`` places; None: all), gains from :func:`gains`.

    Samples with equal scores share their places: each gets the mean discount of
    the places the tie spans (as scikit-learn's ``ndcg_score``).
    """
    t = as_finite("y", y)
    s = as_finite("score", score)
    same_length(y=t, score=s)
    g = gains(t)
    n = len(g)
    k = n if top is None else min(top, n)
    discount = np.zeros(n)
    discount[:k] = 1 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sum(np.sort(g)[::-1] * discount))
    if ideal <= 0:
        return math.nan
    unique, inverse = np.unique(-s, return_inverse=True)  # tie blocks, best score first
    block_gain = np.bincount(inverse, weights=g, minlength=len(unique))
    block_size = np.bincount(inverse, minlength=len(unique))
    ends = np.cumsum(block_size)
    cumulative = np.concatenate([[0.0], np.cumsum(discount)])
    block_discount = (
        cumulative[ends] - cumulative[ends - block_size]
    )  # the discounts the block spans
    return min(1.0, float(np.sum(block_gain / block_size * block_discount) / ideal))


def _lists(n: int, group: ArrayLike | None) -> list[np.ndarray]:
    if group is None:
        return [np.arange(n)]
    g = np.asarray(group)
    if g.shape != (n,):
        raise UserError(f"group: expected {n} values (one per sample), received shape {g.shape}")
    _, inverse = np.unique(g, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)


def ordering_metrics(
    y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None, group: ArrayLike | None = None
) -> dict[str, float]:
    """Kendall tau, the pairwise accuracy, Spearman rho, NDCG and NDCG@10 of one split.

    Args:
        y: float[N] (or [N, 1]) the targets whose order the score should follow.
        score: float[N] the method's score (larger: ranked higher).
        weight: optional float[N] event weights.
        group: optional [N] query groups: each is ranked on its own and the metrics
            are means over the groups (those whose targets are not all equal).

    A metric undefined for every list (tau and rho of a constant score) is NaN.
    """
    t = as_finite("y", y, ndim=(1, 2))
    s = as_finite("score", score, ndim=(1, 2))
    n = same_length(y=t, score=s)
    if t.size != n or s.size != n:
        raise UserError(
            f"task 'ranking' orders by one target and one score per sample; received "
            f"y of shape {t.shape} and score of shape {s.shape}"
        )
    t, s = t.reshape(-1), s.reshape(-1)
    w = None if weight is None else as_weight(weight, n)
    values: dict[str, list[float]] = {
        "kendall_tau": [],
        "pairwise_accuracy": [],
        "spearman_rho": [],
        "ndcg": [],
        f"ndcg_at_{TOP}": [],
    }
    for rows in _lists(n, group):
        ty, ts = t[rows], s[rows]
        if len(rows) < 2 or np.all(ty == ty[0]):
            continue  # nothing to order
        tw = None if w is None else w[rows]
        sums = pair_sums(ty, ts, tw)
        values["kendall_tau"].append(_tau(sums))
        values["pairwise_accuracy"].append(_accuracy(sums))
        values["spearman_rho"].append(_spearman(ty, ts, np.ones(len(rows)) if tw is None else tw))
        values["ndcg"].append(ndcg(ty, ts))
        values[f"ndcg_at_{TOP}"].append(ndcg(ty, ts, TOP))
    out = {}
    for name, found in values.items():
        defined = [v for v in found if math.isfinite(v)]
        out[name] = float(np.mean(defined)) if defined else math.nan
    return out


__all__ = [
    "EXACT_PAIRS",
    "SAMPLED_PAIRS",
    "TOP",
    "PairSums",
    "gains",
    "mid_ranks",
    "ndcg",
    "ordering_metrics",
    "pair_sums",
]
