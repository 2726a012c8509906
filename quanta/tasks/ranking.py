"""Learning to rank: a score whose order follows a real-valued target, trained on pairs."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from quanta.errors import UserError
from quanta.evaluate.ordering import ordering_metrics
from quanta.registry import checked
from quanta.tasks.base import Task
from quanta.tasks.evaluation import RANKING

#: pairs drawn from the validation split for its on-device metrics (statistical error of tau ~0.002)
VALIDATION_PAIRS = 1 << 18
_PAIR_SEED = 1938  # the same validation pairs every epoch (Kendall's year)
_TINY = 1e-12


class Ranking(Task):
    """Learning to rank: a score whose order follows a target (pairwise logistic loss); Kendall tau and NDCG

    The target ``y[N]`` (a physical parameter: a particle's radius, a shower's
    energy) says which of two samples should be ranked higher; the model gives
    one score ``s`` per sample and only the order of the scores counts. The
    loss is RankNet's (Burges et al., ICML 2005): for every pair of one
    training batch with ``y_i > y_j`` the probability that the score orders
    them right is ``sigmoid(s_i - s_j)``, and its negative logarithm
    ``log(1 + exp(-(s_i - s_j)))`` is averaged over the pairs (pairs with
    equal targets are skipped; event weights weigh a pair by ``w_i w_j``).
    ``objective: lambdarank`` (Burges, Ragno, Le, NIPS 2006) weighs each pair by
    ``|dNDCG_ij|``, how much swapping the two in the batch's current order
    would change its NDCG, so the top of the list matters most. The cost is
    ``batch_size^2`` pairs per step: keep batches at or below ~2048.

    With ``group`` (the name of a data-set array of integer group ids, e.g.
    the run or sample holder of each measurement) only samples of one group
    are compared, in training and in every metric: targets need to be
    comparable within a group only. Without it the whole batch is one list.

    Validation metrics (on the device, :data:`VALIDATION_PAIRS` pairs drawn
    with a fixed seed): the pairwise ``loss``, ``pairwise_accuracy`` and
    ``kendall_tau``. Saved scores are evaluated by
    :func:`quanta.evaluate.ordering.ordering_metrics` (Kendall tau-b,
    Spearman rho, NDCG, NDCG@10, the pairwise accuracy). Classical methods
    regress ``y``: a prediction that grows with the target ranks as well.

    Args:
        objective: ``pairwise`` (RankNet's loss) or ``lambdarank`` (its pairs weighted by |dNDCG|).
        group: the array of query groups, or null for one list.
    """

    name = "ranking"
    monitor = "kendall_tau"
    higher_is_better = True
    evaluation = RANKING
    scales_targets = False  # the order of the targets is all the loss reads

    @checked("ranking")
    def __init__(
        self,
        objective: Annotated[
            Literal["pairwise", "lambdarank"], Field(description="one of pairwise, lambdarank")
        ] = "pairwise",
        group: Annotated[
            str | None, Field(min_length=1, description="the name of a data-set array, or null")
        ] = None,
    ) -> None:
        super().__init__()
        self.objective = objective
        self.group = group
        #: the group ids travel to the device with the targets (``metrics`` then receives a dict)
        self.target_arrays: tuple[str, ...] = ("y", group) if group else ()

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.dtype.kind not in "biuf":
            raise UserError(
                f"{where}: task 'ranking' needs numeric targets to order by, "
                f"received dtype {y.dtype}"
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise UserError(
                f"{where}: task 'ranking' orders by one target per sample, received shape {y.shape}"
            )
        if len(y) and np.all(y == y[0]):
            raise UserError(
                f"{where}: task 'ranking' needs targets that differ; all {len(y)} are {y[0]:g}, "
                "so there is no order to learn"
            )
        return y.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return 1

    def check_split(self, parts: dict[str, Any]) -> None:
        """With ``group``: every part carries the array, of integer ids, and train has a pair
        of one group to learn from."""
        if self.group is None:
            return
        for name, part in parts.items():
            if len(part) and self.group not in part:
                arrays = ", ".join(sorted(getattr(part, "arrays", {}))[:12]) or "none"
                raise UserError(
                    f"task 'ranking': group '{self.group}' is not an array of the data ({name} "
                    f"split: {arrays}); name one of them, or drop group to rank every batch "
                    "as one list"
                )
        train = parts["train"]
        if train.streamed:
            return
        ids = np.asarray(train.arrays[self.group])
        if ids.shape != (len(train),):
            raise UserError(
                f"task 'ranking': group '{self.group}' needs one id per sample, received "
                f"shape {ids.shape}"
            )
        if ids.dtype.kind not in "biu" and not (
            ids.dtype.kind == "f" and np.all(ids == np.round(ids))
        ):
            raise UserError(
                f"task 'ranking': group '{self.group}' must hold integer group ids, received "
                f"{'non-integer values' if ids.dtype.kind == 'f' else f'dtype {ids.dtype}'}"
            )
        y = np.asarray(train.y)
        order = np.lexsort((y, ids))
        if not np.any((ids[order][1:] == ids[order][:-1]) & (y[order][1:] != y[order][:-1])):
            raise UserError(
                f"task 'ranking': no group '{self.group}' of the train split holds two samples "
                f"with different targets ({len(np.unique(ids))} groups of {len(train)} samples): "
                "nothing to order"
            )

    def _unpack(self, target) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(y, group ids or None)`` from the tensor ``y`` or the dict of target arrays."""
        if isinstance(target, dict):
            return target["y"].float().reshape(-1), target[self.group].reshape(-1)
        return target.float().reshape(-1), None

    # -- training --------------------------------------------------------------
    def loss(self, output, target, weight=None, mask=None):
        """The pairwise logistic loss over the pairs of the batch (within groups)."""
        y, group = self._unpack(target)
        s = self.scores(output).float()
        preferred = y[:, None] > y[None, :]  # i should be ranked above j
        if group is not None:
            preferred = preferred & (group[:, None] == group[None, :])
        pair_weight = preferred.to(s.dtype)
        if weight is not None:
            w = weight.to(s.dtype).reshape(-1)
            pair_weight = pair_weight * (w[:, None] * w[None, :])
        if self.objective == "lambdarank":
            pair_weight = pair_weight * delta_ndcg(s.detach(), y, group)
        logistic = F.softplus(-(s[:, None] - s[None, :]))  # -log sigmoid(s_i - s_j)
        return (pair_weight * logistic).sum() / pair_weight.sum().clamp_min(_TINY)

    def training_loss(self, model, batch, inputs):
        output = self.forward(model, batch, inputs)
        target = {name: batch[name] for name in self.target_arrays} if self.group else batch["y"]
        return self.loss(output, target, batch.get("weight"))

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return output.reshape(-1)

    def metrics(self, output, target, weight=None, mask=None):
        """Pairwise loss, accuracy and Kendall tau on :data:`VALIDATION_PAIRS` drawn pairs."""
        y, group = self._unpack(target)
        s = self.scores(output).float()
        i, j = sampled_pairs(len(s), group, VALIDATION_PAIRS)
        i, j = i.to(s.device), j.to(s.device)
        dy, ds = torch.sign(y[i] - y[j]), torch.sign(s[i] - s[j])
        pw = torch.ones_like(dy) if weight is None else (weight.float()[i] * weight.float()[j])
        untied = pw * (dy != 0)
        logistic = F.softplus(-dy * (s[i] - s[j]))
        target_pairs = untied.sum().clamp_min(_TINY)
        score_pairs = (pw * (ds != 0)).sum().clamp_min(_TINY)
        correct = (untied * ((dy * ds > 0).float() + 0.5 * (ds == 0).float())).sum()
        return {
            "loss": (untied * logistic).sum() / target_pairs,
            "pairwise_accuracy": correct / target_pairs,
            "kendall_tau": (pw * dy * ds).sum() / torch.sqrt(target_pairs * score_pairs),
        }

    def evaluation_heads(self, arrays, scores):
        """The saved scores' metrics, each group ranked on its own when ``group`` is given."""
        evaluation = self.evaluation
        if self.group is not None and self.group in arrays:
            evaluation = replace(
                evaluation, metrics=partial(ordering_metrics, group=arrays[self.group])
            )
        return {"": (evaluation, arrays.get("y"), scores)}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "monitor": self.monitor,
            "objective": self.objective,
            "group": self.group,
        }


def sampled_pairs(
    n: int, group: torch.Tensor | None, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` pairs (i, j) of ``n`` samples, seeded: i uniform, j uniform in i's group
    (CPU tensors)."""
    generator = torch.Generator().manual_seed(_PAIR_SEED)
    i = torch.randint(n, (count,), generator=generator)
    if group is None:
        return i, torch.randint(n, (count,), generator=generator)
    group = group.cpu()
    order = torch.argsort(group, stable=True)
    _, counts = torch.unique_consecutive(group[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    place = torch.empty_like(order)
    place[order] = torch.arange(n)
    which = torch.repeat_interleave(torch.arange(len(counts)), counts)[place[i]]  # i's group
    offset = (
        (torch.rand(count, generator=generator) * counts[which]).long().clamp_max(counts[which] - 1)
    )
    return i, order[starts[which] + offset]


def delta_ndcg(s: torch.Tensor, y: torch.Tensor, group: torch.Tensor | None = None) -> torch.Tensor:
    """``|dNDCG_ij|`` [B, B]: the change of a list's NDCG when samples i and j swap places.

    In the lists of the batch (its groups, or the whole batch): gains ``g`` are
    the targets' normalised ranks (as :func:`quanta.evaluate.ordering.gains`),
    a sample at place ``r`` (0 first, in the order of the scores) is
    discounted by ``1 / log2(2 + r)``, and
    ``|dNDCG_ij| = |g_i - g_j| |1/log2(2 + r_i) - 1/log2(2 + r_j)| / IDCG``,
    with IDCG the discounted gain of the list in the targets' own order.
    Pairs of different lists get 0.
    """
    n = len(s)
    same = (
        torch.ones(n, n, dtype=torch.bool, device=s.device)
        if group is None
        else group[:, None] == group[None, :]
    )
    size = same.sum(1).to(s.dtype)
    below = (same & (y[None, :] < y[:, None])).sum(1).to(s.dtype)
    equal = (same & (y[None, :] == y[:, None])).sum(1).to(s.dtype) - 1
    gain = (below + equal / 2) / (size - 1).clamp_min(1)
    place = (same & (s[None, :] > s[:, None])).sum(1).to(s.dtype)
    earlier = torch.arange(n, device=s.device)
    ideal_place = (
        same
        & (
            (gain[None, :] > gain[:, None])
            | ((gain[None, :] == gain[:, None]) & (earlier[None, :] < earlier[:, None]))
        )
    ).sum(1)
    ideal = (same.to(s.dtype) * (gain / torch.log2(2 + ideal_place.to(s.dtype)))[None, :]).sum(1)
    discount = 1 / torch.log2(2 + place)
    change = (gain[:, None] - gain[None, :]).abs() * (discount[:, None] - discount[None, :]).abs()
    return change / ideal.clamp_min(_TINY)[:, None] * same


__all__ = ["VALIDATION_PAIRS", "Ranking", "delta_ndcg", "sampled_pairs"]
