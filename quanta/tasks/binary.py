"""Binary classification: signal (label 1) against background (label 0)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import (
    Task,
    reduce,
    require_classes_in_train,
    require_integer_labels,
    selected,
)
from quanta.tasks.evaluation import BINARY


class Binary(Task):
    """Two-class classification (signal 1 vs background 0): one logit, BCE loss, AUC

    The model emits one logit per sample (``[N]`` or ``[N, 1]``), or per
    element for per-element labels (edges of a graph, steps of a sequence:
    ``y[N, E]`` with logits ``[N, E]`` or ``[N, E, 1]``). The loss is binary
    cross-entropy on the logits, the score is the sigmoid (signal
    probability), and the validation metric is the area under the ROC curve.
    """

    name = "binary"
    evaluation = BINARY
    monitor = "auc"
    higher_is_better = True

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        labels = require_integer_labels(y, where, "0 for background, 1 for signal")
        values = set(np.unique(labels).tolist())
        if not values <= {0, 1}:
            raise UserError(
                f"{where}: task 'binary' needs labels 0 and 1, received values {sorted(values)[:10]}; "
                "use task 'multiclass' for more classes"
            )
        if len(values) < 2:
            raise UserError(f"{where}: task 'binary' needs both classes, received only label {values.pop()}")
        return labels.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return 1

    def check_split(self, parts):
        require_classes_in_train(parts, 2)

    def loss(self, output, target, weight=None, mask=None):
        logits = output.reshape(target.shape).float()
        if weight is None and mask is None:  # one fused kernel in the hot loop
            return F.binary_cross_entropy_with_logits(logits, target)
        per_element = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return reduce(per_element, weight, mask)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        output = output.float()
        return torch.sigmoid(output.squeeze(-1) if output.ndim > 1 and output.shape[-1] == 1 else output)

    def metrics(self, output, target, weight=None, mask=None):
        logits, labels, weights = selected(output.float(), target, weight, mask)
        return {"loss": self.loss(output, target, weight, mask).detach(), "auc": roc_auc(logits, labels, weights)}


def roc_auc(score: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Area under the ROC curve on the device (Mann-Whitney statistic, ties count half).

    Shapes: score [N], label [N] (0/1), weight [N] or None -> 0-d tensor.
    """
    order = torch.argsort(score)
    score, label = score[order], label[order].float()
    w = torch.ones_like(label) if weight is None else weight[order].float()
    w_sig, w_bkg = w * label, w * (1 - label)
    # background weight strictly below each score, plus half the tied background weight
    unique, inverse = torch.unique_consecutive(score, return_inverse=True)
    bkg_per_value = torch.zeros(len(unique), device=score.device, dtype=w.dtype).index_add_(0, inverse, w_bkg)
    below = torch.cumsum(bkg_per_value, 0) - bkg_per_value
    credit = below[inverse] + 0.5 * bkg_per_value[inverse]
    return (w_sig * credit).sum() / (w_sig.sum() * w_bkg.sum()).clamp_min(1e-12)
