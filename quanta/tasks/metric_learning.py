"""Metric learning: a network maps each sample to a point of an embedding where similar samples lie close.

The model (any quanta network: ``mlp``, ``deepsets``/``pfn``, ``particlenet``,
...) gives ``[N, embedding]`` outputs, projected onto the unit sphere with
``normalise`` (distances are then those of cosine similarity). Three ways of
saying which samples are similar:

- ``infonce`` (self-supervised, no labels: SimCLR's NT-Xent, Chen et al.,
  arXiv:2002.05709; for jets JetCLR, Dillon et al., arXiv:2108.04253): every
  training step draws two augmented views of each of the batch's N samples
  (the ``train.augment`` pipeline, e.g. ``jet_rotation``, ``soft_smearing``,
  ``collinear_split``, ``jet_boost``); each view must pick out its partner
  among the other 2N - 1 by cosine similarity / ``temperature`` (a
  cross-entropy). The embedding learns what the augmentations leave alone.
- ``triplet`` (labels; Schroff et al., FaceNet, arXiv:1503.03832): for each
  anchor of the batch, a positive of its class and a negative of another,
  loss max(0, d(a, p) - d(a, n) + ``margin``); ``mining: random`` (the
  default) draws one of each at random, ``batch_hard`` takes the farthest
  positive and the nearest negative in the batch (Hermans et al.,
  arXiv:1703.07737). Batch-hard suits well-separated classes; where classes
  overlap, as top and QCD jets do, the hardest pairs look alike and it
  collapses every embedding into one point (loss = margin, ``uniformity``
  0), which random mining avoids.
- ``siamese`` (labels; Hadsell, Chopra and LeCun, CVPR 2006): every pair of
  the batch, d^2 for a pair of one class and max(0, ``margin`` - d)^2 for a
  pair of two; the two kinds of pair are averaged separately and added, so
  that the many pairs of different classes do not drown the few of one.

Triplet and siamese training augments the batch once, as for any task;
infonce draws its two views itself (``augments_views``). The saved
predictions are the embeddings (``code_<i>`` columns); labels, when the data
carry them, are used only to evaluate them (:mod:`quanta.evaluate.metric_learning`:
``precision_at_10``, ``knn_accuracy``, ``probe_accuracy``, ``uniformity``).

Validation batches are never augmented, so the validation ``loss`` of
infonce is the NT-Xent of the samples against themselves (each sample's
embedding must pick itself out among the others): the spreading-out half of
the objective. With labels the history also holds ``precision_at_10``,
which ``train.monitor`` may watch instead. Validation metrics are computed
on at most :data:`VALID_ROWS` samples evenly spaced through the split.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from quanta.errors import UserError
from quanta.evaluate.metric_learning import RETRIEVAL_K
from quanta.registry import checked
from quanta.tasks.base import Task, require_integer_labels
from quanta.tasks.evaluation import METRIC_LEARNING

Objective = Literal["infonce", "triplet", "siamese"]
Mining = Literal["batch_hard", "random"]
#: the most validation samples whose pairs the validation metrics compare
VALID_ROWS = 2048
_TINY = 1e-12  # inside square roots of distances: a finite gradient at d = 0


class MetricLearning(Task):
    """Metric learning: an embedding where augmented views (InfoNCE) or same-class pairs (triplet, siamese) lie close

    Args:
        objective: ``infonce`` (two augmented views of each sample, no labels),
            ``triplet`` or ``siamese`` (pairs of the same and of different
            classes, labels needed).
        embedding: the embedding's dimension, the model's ``out_features``.
        temperature: infonce's temperature: the cosine similarities are divided by it.
        margin: triplet: how much nearer the positive must be than the
            negative; siamese: the distance beyond which pairs of different
            classes cost nothing (on the unit sphere distances lie in [0, 2]).
        mining: triplet: ``batch_hard`` or ``random`` positives and negatives.
        normalise: project the embeddings onto the unit sphere (infonce needs it).
    """

    name = "metric_learning"
    evaluation = METRIC_LEARNING
    monitor = "loss"
    higher_is_better = False

    @checked("metric_learning")
    def __init__(
        self,
        objective: Annotated[Objective, Field(description="one of infonce, triplet, siamese")] = "infonce",
        embedding: Annotated[int, Field(ge=1, description="an integer >= 1")] = 16,
        temperature: Annotated[float, Field(gt=0, allow_inf_nan=False,
                                            description="a number > 0")] = 0.1,
        margin: Annotated[float, Field(gt=0, allow_inf_nan=False, description="a number > 0")] = 0.5,
        mining: Annotated[Mining, Field(description="one of batch_hard, random")] = "random",
        normalise: bool = True,
    ) -> None:
        super().__init__()
        if objective == "infonce" and not normalise:
            raise UserError("task 'metric_learning': objective infonce compares the cosine similarities "
                            "of embeddings on the unit sphere; normalise must be true, received false")
        self.objective, self.embedding, self.temperature = objective, embedding, temperature
        self.margin, self.mining, self.normalise = margin, mining, normalise
        #: infonce augments each batch twice itself (quanta.train.loop hands it the pipeline)
        self.augments_views = objective == "infonce"

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.ndim != 1:
            raise UserError(f"{where}: task 'metric_learning' reads y as one class label per sample, "
                            f"received shape {y.shape}")
        return require_integer_labels(y, where, "class indices: the pairs of triplet and siamese, "
                                                "and the evaluation of the embedding")

    def out_features(self, y: np.ndarray | None) -> int:
        """The embedding's dimension."""
        return self.embedding

    def check_split(self, parts: dict[str, Any]) -> None:
        """Triplet and siamese learn from classes: the train split needs labels of two classes or more."""
        if self.objective == "infonce":
            return
        train = parts["train"]
        if "y" not in train:
            raise UserError(f"task 'metric_learning': objective {self.objective} learns from pairs of the "
                            "same and of different classes and needs labels y, which the data do not "
                            "carry; objective infonce learns from augmented views without labels")
        if not train.streamed and len(train) and len(np.unique(train.y)) < 2:
            raise UserError(f"task 'metric_learning': objective {self.objective} needs two classes or "
                            f"more in the train split, which holds only class {int(train.y[0])}")

    # -- the embedding -----------------------------------------------------------
    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """``[N, embedding]``: the model's outputs, on the unit sphere with ``normalise``."""
        z = model(*(batch[name] for name in inputs))
        z = z.flatten(1).float()  # not reshape(len(z), -1): an exported graph keeps N dynamic
        return F.normalize(z, dim=1) if self.normalise else z

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return output

    # -- training ----------------------------------------------------------------
    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        """Triplet and siamese: the default step. InfoNCE: both views through the model in one batch."""
        if self.objective != "infonce":
            return super().training_step(state, batch, inputs)
        augment = getattr(state, "augment", None)
        if augment is None:
            raise UserError("task 'metric_learning': objective infonce learns from two augmented views "
                            "of each sample and train.augment is empty; give augmentations, e.g. "
                            "[jet_rotation, soft_smearing, collinear_split] for jet constituents or "
                            "[{name: jitter, sigma: 0.1}] for a table")
        first, second = augment(batch), augment(batch)
        both = {name: torch.cat([first[name], second[name]]) for name in inputs}
        with state.autocast():
            z = self.forward(state.model, both, inputs)
            n = len(batch[inputs[0]])
            loss = nt_xent(z[:n], z[n:], self.temperature, batch.get("weight"))
        state.step("model", loss)
        return loss.detach()

    def loss(self, output: torch.Tensor, target: torch.Tensor | None = None,
             weight: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The objective on a batch of embeddings (infonce: each sample against itself)."""
        if self.objective == "infonce":
            return nt_xent(output, output, self.temperature, weight)
        if target is None:
            raise UserError(f"task 'metric_learning': objective {self.objective} needs labels y")
        if self.objective == "triplet":
            return triplet_loss(output, target, self.margin, self.mining, weight)
        return contrastive_loss(output, target, self.margin, weight)

    def metrics(self, output: torch.Tensor, target: torch.Tensor | None, weight: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``loss`` and ``uniformity``, and with labels ``precision_at_10``, on a spread of the split."""
        keep = torch.unique(torch.linspace(0, len(output) - 1, min(VALID_ROWS, len(output)),
                                           device=output.device).long())
        z = output[keep]
        target = None if target is None else target[keep]
        weight = None if weight is None else weight[keep]
        metrics = {"loss": self.loss(z, target, weight).detach()} if len(z) > 1 else {}
        if len(z) > 1:
            u = F.normalize(z, dim=1)
            metrics["uniformity"] = torch.logsumexp(-2 * torch.pdist(u) ** 2, 0) - np.log(len(u) * (len(u) - 1) / 2)
        if target is not None and len(z) > RETRIEVAL_K:
            distance = torch.cdist(z, z).fill_diagonal_(float("inf"))
            nearest = distance.topk(RETRIEVAL_K, dim=1, largest=False).indices
            metrics[f"precision_at_{RETRIEVAL_K}"] = (target[nearest] == target[:, None]).float().mean()
        return metrics


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp_min(_TINY)


def nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float,
            weight: torch.Tensor | None = None) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy of two views ``[N, d]`` (unit vectors) of N samples.

    The 2N views are compared by their dot products / ``temperature``; each
    must pick out its partner (the other view of its sample) among the other
    2N - 1. The mean over samples (weighted) of their two views' losses.
    """
    z = torch.cat([first, second]).float()  # [2N, d]
    n = len(first)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    per_view = F.cross_entropy(logits, partner, reduction="none")
    return _weighted_mean((per_view[:n] + per_view[n:]) / 2, weight)


def _distances(z: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[N, N]`` with a finite gradient at 0."""
    squared = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
    return torch.sqrt(squared + _TINY)


def triplet_loss(z: torch.Tensor, labels: torch.Tensor, margin: float, mining: str = "batch_hard",
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean max(0, d(a, p) - d(a, n) + margin) over the anchors of ``z [N, d]`` that have both.

    ``batch_hard``: the farthest positive and nearest negative of each anchor;
    ``random``: one of each drawn from torch's generator (saved in checkpoints).
    """
    z = z.float()
    distance = _distances(z)
    same = labels[:, None] == labels[None, :]
    itself = torch.eye(len(z), dtype=torch.bool, device=z.device)
    positive, negative = same & ~itself, ~same
    anchors = positive.any(1) & negative.any(1)  # (no sync: an empty batch gives 0)
    if mining == "batch_hard":
        d_positive = distance.masked_fill(~positive, float("-inf")).max(1).values
        d_negative = distance.masked_fill(~negative, float("inf")).min(1).values
    else:
        drawn = torch.rand(distance.shape, device=z.device)
        rows = torch.arange(len(z), device=z.device)
        d_positive = distance[rows, drawn.masked_fill(~positive, -1.0).argmax(1)]
        d_negative = distance[rows, drawn.masked_fill(~negative, -1.0).argmax(1)]
    per_anchor = torch.relu(d_positive - d_negative + margin).masked_fill(~anchors, 0.0)
    w = anchors.float() if weight is None else anchors.float() * weight.float()
    return (per_anchor * w).sum() / w.sum().clamp_min(_TINY)


def contrastive_loss(z: torch.Tensor, labels: torch.Tensor, margin: float,
                     weight: torch.Tensor | None = None) -> torch.Tensor:
    """Siamese pairs of ``z [N, d]``: mean d^2 over pairs of one class + mean max(0, margin - d)^2 over others.

    Every unordered pair of the batch counts, weighted by the product of its
    samples' weights; each kind of pair is averaged on its own.
    """
    z = z.float()
    distance = _distances(z)
    same = labels[:, None] == labels[None, :]
    pairs = torch.triu(torch.ones_like(same), diagonal=1)
    w = torch.ones_like(distance) if weight is None else weight.float()[:, None] * weight.float()[None, :]
    loss = z.sum() * 0.0
    for kind, cost in ((same & pairs, distance**2), (~same & pairs, torch.relu(margin - distance) ** 2)):
        kind_weight = w * kind  # (no sync: a kind absent from the batch adds 0)
        loss = loss + (cost * kind_weight).sum() / kind_weight.sum().clamp_min(_TINY)
    return loss


__all__ = ["MetricLearning", "contrastive_loss", "nt_xent", "triplet_loss"]
