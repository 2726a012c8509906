"""Multiclass classification with K exclusive classes labelled 0..K-1."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import Task, reduce, require_classes_in_train, require_integer_labels
from quanta.tasks.evaluation import MULTICLASS


class Multiclass(Task):
    """K-class classification: K logits, cross-entropy loss, accuracy

    The model emits K logits per sample (``[N, K]``), or per element for
    per-element labels (``y[N, T]`` -> logits ``[N, T, K]``). The loss is
    cross-entropy, the scores are the softmax probabilities, the validation
    metric is accuracy.
    """

    name = "multiclass"
    evaluation = MULTICLASS
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

    def check_split(self, parts):
        present = [part.y for part in parts.values() if not part.streamed and "y" in part and len(part)]
        if present:
            require_classes_in_train(parts, max(self.out_features(y) for y in present))

    def loss(self, output, target, weight=None, mask=None):
        logits = output.float().reshape(-1, output.shape[-1])
        if weight is None and mask is None:
            return F.cross_entropy(logits, target.reshape(-1))
        per_element = F.cross_entropy(logits, target.reshape(-1), reduction="none").reshape(target.shape)
        return reduce(per_element, weight, mask)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return torch.softmax(output.float(), dim=-1)

    def metrics(self, output, target, weight=None, mask=None):
        correct = (output.argmax(dim=-1) == target).float()
        return {"loss": self.loss(output, target, weight, mask).detach(),
                "accuracy": reduce(correct, weight, mask)}
