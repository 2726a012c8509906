"""L1, L2 and elastic-net penalties added to the training loss.

The penalised objective is ``loss + l1 * sum|w| + l2 * sum w^2`` over the
*weights* of the network: parameters with two or more dimensions (dense and
convolution kernels, embeddings). Biases, normalisation scales and shifts and
other one-dimensional or scalar parameters (Fixup's scalar biases and
multipliers) are left out: penalising them does not reduce the capacity the
penalty is meant to limit, and pulling a LayerNorm gain to zero would shut the
layer off. Frozen parameters (``requires_grad=False``) are left out too.

- ``l1`` (lasso, Tibshirani 1996): the gradient ``l1 * sign(w)`` has the same
  size for small and large weights, so irrelevant weights are driven to
  (about) zero: sparse networks, feature selection on the first layer. With
  plain SGD a weight then oscillates within ``lr * l1`` of zero rather than
  sitting exactly at it.
- ``l2`` (ridge, "weight decay"): gradient ``2 * l2 * w``, shrinking all weights
  in proportion. The optimiser's ``weight_decay`` option adds ``weight_decay *
  w`` to the gradient instead (equivalent to ``l2 = weight_decay / 2`` for
  SGD; decoupled from the adaptive scaling in AdamW) and also decays biases.
- both: the elastic net (Zou & Hastie 2005), sparse like L1 but sharing weight
  between correlated inputs like L2.

The reported training loss is the task loss alone, comparable with the
validation loss; the penalty enters only the gradient.
"""

from __future__ import annotations

import torch
from torch import nn


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The trainable parameters a penalty applies to: every one with ``ndim >= 2``."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]


class WeightPenalty:
    """``l1 * sum|w| + l2 * sum w^2`` over :func:`penalized_weights` of ``model``.

    Args:
        model: the network; its weights are collected once, here.
        l1: coefficient of the L1 term (>= 0).
        l2: coefficient of the squared-L2 term (>= 0).

    Calling the penalty returns a 0-d tensor on the weights' device (no sync).
    """

    def __init__(self, model: nn.Module, l1: float = 0.0, l2: float = 0.0):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"penalty coefficients must be >= 0, received l1={l1}, l2={l2}")
        self.l1 = l1
        self.l2 = l2
        self.weights = penalized_weights(model)

    def __call__(self) -> torch.Tensor:
        total = torch.zeros((), device=self.weights[0].device) if self.weights else torch.zeros(())
        for w in self.weights:
            if self.l1:
                total = total + self.l1 * w.abs().sum()
            if self.l2:
                total = total + self.l2 * w.pow(2).sum()
        return total


def weight_penalty(model: nn.Module, l1: float = 0.0, l2: float = 0.0) -> WeightPenalty | None:
    """A :class:`WeightPenalty`, or None when both coefficients are zero (nothing to add)."""
    if not l1 and not l2:
        return None
    return WeightPenalty(model, l1, l2)


__all__ = ["WeightPenalty", "penalized_weights", "weight_penalty"]
