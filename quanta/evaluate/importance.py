"""Permutation importance: how much a method's score suffers when one input variable is shuffled.

For each input variable, its values are shuffled between the events of a
sample (the link between that variable and everything else, the label
included, is cut while its distribution is kept), the method predicts again
and the metric is measured again. The *drop* is how much worse the metric
got: ``AUC - AUC(shuffled)`` for a metric that is maximised,
``MSE(shuffled) - MSE`` for one that is minimised. A variable the method does
not use has a drop of zero within the spread of the shuffles; the variable
whose loss hurts most ranks first. Unlike a tree's own importance (how often
and how well it cuts on a variable in training), this measures any method,
on events it was not trained on, in the units of the metric physicists quote.

Tables of events have inputs ``x[N, F]``: variable ``j`` is the column
``x[:, j]``. Sets of particles (or hits, or sequence steps) have
``x[N, P, F]`` with ``mask[N, P]`` (True for real particles): variable ``j``
is the per-particle feature ``x[:, :, j]``, and its values are shuffled among
all real particles of the sample, so padding stays padding and each event
keeps its number of particles.

Each variable gets its own random stream, derived from ``seed`` and its
index alone, so one variable's shuffles do not depend on how many others
there are. This module needs NumPy only.

Reference: L. Breiman, "Random forests", Machine Learning 45 (2001) 5-32
(the permutation measure of variable importance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: how the worsening of a metric is measured, by the metric's goal (``quanta.evaluate.metric_goal``)
WORSENING: dict[str, Callable[[float, float], float]] = {
    "max": lambda baseline, shuffled: baseline - shuffled,
    "min": lambda baseline, shuffled: shuffled - baseline,
    "zero": lambda baseline, shuffled: abs(shuffled) - abs(baseline),
}


@dataclass(frozen=True)
class PermutationImportance:
    """The metric without shuffling and its drop for every shuffle of every variable.

    Attributes:
        baseline: the metric on the unshuffled sample.
        drops: ``float[repeats, F]``, the worsening of the metric per shuffle and variable.
    """

    baseline: float
    drops: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """``float[F]``: the mean drop of each variable (its importance)."""
        return self.drops.mean(axis=0)

    @property
    def std(self) -> np.ndarray | None:
        """``float[F]``: the standard deviation of the drops over the shuffles (None for one)."""
        return self.drops.std(axis=0, ddof=1) if len(self.drops) > 1 else None

    def ranks(self) -> np.ndarray:
        """``int[F]``: 1 for the most important variable (largest mean drop), ties in order."""
        order = np.argsort(-self.mean, kind="stable")
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(1, len(order) + 1)
        return ranks


def shuffled_variable(x: np.ndarray, j: int, rng: np.random.Generator, out: np.ndarray,
                      mask: np.ndarray | None = None) -> None:
    """Write ``x`` with variable ``j`` shuffled between events into ``out`` (a copy of ``x``).

    Shapes: x, out ``[N, F]`` or ``[N, P, F]``; mask ``[N, P]`` (True: a real particle) or None
    (every particle real).
    """
    if x.ndim == 2:
        out[:, j] = x[rng.permutation(len(x)), j]
        return
    column = out[..., j]  # [N, P], a view into out
    if mask is None:
        values = x[..., j].reshape(-1)
        column[...] = values[rng.permutation(len(values))].reshape(column.shape)
        return
    values = x[..., j][mask]  # [M]: the real particles of every event
    column[mask] = values[rng.permutation(len(values))]


#: inputs of the shuffled copies of the sample predicted in one call (per-call costs, such as a
#: forest's thread start or a network's transfer to the device, are paid once per batch)
BATCH_BYTES = 32 * 2**20


def permutation_importance(x: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
                           metric: Callable[[np.ndarray], float], goal: str, repeats: int = 3,
                           seed: int = 1, mask: np.ndarray | None = None,
                           batch_bytes: int = BATCH_BYTES) -> PermutationImportance:
    """Shuffle each variable of ``x`` ``repeats`` times and measure the drop of ``metric``.

    The shuffled copies of the sample are stacked and predicted together, as many per call of
    ``predict`` as fit in ``batch_bytes`` of inputs; the result does not depend on how many.

    Args:
        x: the inputs of a sample of N events, ``float[N, F]`` or ``float[N, P, F]``.
        predict: inputs of ``k`` stacked copies of the sample, ``[k * N, ...]`` -> the method's
            scores, row-aligned (each event scored on its own).
        metric: the scores of one copy (``[N, ...]``) -> the metric (the caller holds the
            targets and weights of the sample).
        goal: "max", "min" or "zero": which way the metric improves.
        repeats: shuffles per variable (>= 1).
        seed: the seed of the shuffles.
        mask: ``bool[N, P]`` for sets of particles (True: real, False: padding), else None.
        batch_bytes: the most bytes of stacked inputs per call of ``predict``.

    Returns:
        The baseline metric and the drops ``[repeats, F]`` (positive: the metric got worse).
    """
    if x.ndim not in (2, 3):
        raise ValueError(f"expected inputs [N, F] or [N, P, F], received shape {x.shape}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, received {repeats}")
    if goal not in WORSENING:
        raise ValueError(f"goal must be one of {', '.join(WORSENING)}, received {goal!r}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    worsening, events = WORSENING[goal], len(x)
    baseline = float(metric(predict(x)))
    streams = [np.random.default_rng([seed, j]) for j in range(x.shape[-1])]
    shuffles = [(j, r) for j in range(x.shape[-1]) for r in range(repeats)]  # each stream in order
    per_call = max(1, batch_bytes // max(x.nbytes, 1))
    drops = np.zeros((repeats, x.shape[-1]))
    for first in range(0, len(shuffles), per_call):
        batch = shuffles[first:first + per_call]
        stacked = np.empty((len(batch) * events, *x.shape[1:]), dtype=x.dtype)  # [k * N, ...]
        for copy, (j, _) in enumerate(batch):
            block = stacked[copy * events:(copy + 1) * events]
            block[...] = x
            shuffled_variable(x, j, streams[j], block, mask)
        scores = predict(stacked)
        for copy, (j, r) in enumerate(batch):
            shuffled = float(metric(scores[copy * events:(copy + 1) * events]))
            drops[r, j] = worsening(baseline, shuffled)
    return PermutationImportance(baseline, drops)


__all__ = ["BATCH_BYTES", "WORSENING", "PermutationImportance", "permutation_importance",
           "shuffled_variable"]
