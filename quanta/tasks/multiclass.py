"""Multiclass classification with K exclusive classes labelled 0..K-1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import Task, require_integer_labels, weighted_mean


class Multiclass(Task):
    """K-class classification: K logits, cross-entropy loss, accuracy

    The model emits K logits; the loss is cross-entropy, the scores are the
    softmax probabilities [N, K], the validation metric is accuracy.
    """

    name = "multiclass"
    monitor = "accuracy"
    higher_is_better = True

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        labels = require_integer_labels(y, where, "class indices 0..K-1")
        if labels.min() < 0:
            raise UserError(f"{where}: class labels must be 0..K-1, received {int(labels.min())}")
        if len(np.unique(labels)) < 2:
            raise UserError(f"{where}: task 'multiclass' needs at least two classes")
        return labels

    def out_features(self, y: np.ndarray) -> int:
        return int(y.max()) + 1

    def loss(self, output, target, weight=None):
        if weight is None:
            return F.cross_entropy(output.float(), target)
        per_sample = F.cross_entropy(output.float(), target, reduction="none")
        return weighted_mean(per_sample, weight)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return torch.softmax(output.float(), dim=-1)

    def metrics(self, output, target, weight=None):
        correct = (output.argmax(dim=-1) == target.long()).float()
        return {"loss": self.loss(output, target, weight).detach(),
                "accuracy": weighted_mean(correct, weight)}
