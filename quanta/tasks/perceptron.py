"""The perceptron rule as a task, so that plain SGD performs Rosenblatt's updates."""

from __future__ import annotations

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.base import Task, reduce, require_integer_labels
from quanta.tasks.evaluation import BINARY


def step(activation: torch.Tensor) -> torch.Tensor:
    """Heaviside step: 1 where ``activation >= 0``, else 0 (the perceptron's decision)."""
    return (activation >= 0).to(activation.dtype)


class PerceptronRule(Task):
    """Rosenblatt's perceptron rule: weights move by r (t - y) x for every misclassified sample

    The model emits the activation ``a = w . x + b`` of a linear unit
    (``[N]`` or ``[N, 1]``; the registered model ``perceptron``). The decision
    is ``y = step(a)`` in {0, 1}; targets ``t`` are labels 0 and 1.

    The training loss is the *perceptron criterion* summed over the batch,
    ``L = sum_n -(t_n - y_n) a_n`` with ``y_n`` held constant (no gradient
    flows through the step). Its gradient with respect to ``w`` is
    ``-sum_n (t_n - y_n) x_n`` — zero for correctly classified samples — so
    one plain SGD step with learning rate ``r`` (``optimizer="sgd",
    momentum=0``) is exactly ``w <- w + r sum_n (t_n - y_n) x_n``, ``b <- b +
    r sum_n (t_n - y_n)``: Rosenblatt's rule, applied to every sample of the
    batch at the same weights. ``batch_size=1`` gives the classic online rule.
    The criterion is never negative and is zero exactly when every sample is
    classified right. Per-sample weights scale each sample's update.

    Scores (predictions) are the decisions ``y`` themselves (0.0 or 1.0); the
    validation metrics are the mean criterion (``loss``) and the ``accuracy``.
    The reported training loss is the mean over batches of the summed criterion.
    """

    name = "perceptron"
    evaluation = BINARY
    monitor = "accuracy"
    higher_is_better = True

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        labels = require_integer_labels(y, where, "0 and 1")
        values = set(np.unique(labels).tolist())
        if not values <= {0, 1}:
            raise UserError(f"{where}: task 'perceptron' needs labels 0 and 1, received values {sorted(values)[:10]}")
        return labels.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return 1

    def criterion(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample perceptron criterion ``-(t - y) a`` with the step held constant."""
        activation = output.float().reshape(target.shape)
        decision = step(activation.detach())
        return -(target - decision) * activation

    def loss(self, output, target, weight=None, mask=None):
        """Mean criterion over the (unmasked) samples (validation, early stopping)."""
        return reduce(self.criterion(output, target), weight, mask)

    def training_loss(self, model, batch, inputs):
        """Summed criterion of the batch: its SGD step is the perceptron rule for every sample."""
        output = model(*(batch[name] for name in inputs))
        per_element = self.criterion(output, batch["y"])
        if "weight" in batch:  # one weight per sample, for all its elements
            per_element = per_element * batch["weight"].to(per_element.dtype).reshape(
                -1, *([1] * (per_element.ndim - 1)))
        if "target_mask" in batch:
            per_element = per_element * batch["target_mask"].to(per_element.dtype).reshape(per_element.shape)
        return per_element.sum()

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        output = output.float()
        return step(output.squeeze(-1) if output.ndim > 1 and output.shape[-1] == 1 else output)

    def metrics(self, output, target, weight=None, mask=None):
        decision = step(output.float().reshape(target.shape))
        correct = (decision == target).float()
        return {"loss": self.loss(output, target, weight, mask).detach(), "accuracy": reduce(correct, weight, mask)}


__all__ = ["PerceptronRule", "step"]
