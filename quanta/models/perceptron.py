"""Rosenblatt's perceptron: the first trainable neuron.

One linear unit with a step activation, ``y = step(w . x + b)`` with
``step(a) = 1`` for ``a >= 0`` and 0 otherwise. Rosenblatt's learning rule
moves the weights only on mistakes::

    w <- w + r (t - y) x        b <- b + r (t - y)

for target ``t`` in {0, 1} and learning rate ``r``. On linearly separable data
the rule stops after finitely many updates with every training sample right
(Novikoff's convergence theorem, 1962); on XOR it never settles, which is
Minsky and Papert's famous objection (1969) and the reason for hidden layers.

The model returns the *activation* ``a = w . x + b``: the step has zero
gradient, so a model that returned it could not be trained by backpropagation.
The task ``perceptron`` (:class:`quanta.tasks.perceptron.PerceptronRule`)
applies the step and turns the rule into a loss whose gradient is exactly
``-(t - y) x``, so one plain SGD step is one application of the rule.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.models.hints import Size
from quanta.registry import checked


class Perceptron(nn.Module):
    """Rosenblatt's perceptron: a step-activated linear unit trained with the perceptron rule

    Args:
        in_features: number of inputs per sample (after flattening).
        out_features: number of independent perceptrons sharing the inputs
            (1 for one decision).
        init: ``"zeros"`` (the textbook start, w = 0 and b = 0; the scale of
            the learning rate then does not matter) or ``"default"``
            (PyTorch's small random weights).

    Shapes:
        - input ``x``: ``[N, in_features]`` or ``[N, d1, d2, ...]`` (flattened).
        - output: ``[N, out_features]``, the activation ``w . x + b``;
          :meth:`step` turns it into the 0/1 decision.

    Reference:
        F. Rosenblatt, "The perceptron: a probabilistic model for information
        storage and organization in the brain", Psychological Review 65, 386 (1958).
    """

    inputs = ("x",)

    @checked("perceptron")
    def __init__(self, in_features: Size, out_features: Size = 1,
                 init: Annotated[Literal["zeros", "default"], Field(description="'zeros' or 'default'")] = "zeros",
                 ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.init = init
        self.linear = nn.Linear(in_features, out_features)
        if init == "zeros":
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> Perceptron:
        """A perceptron for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The activation ``w . x + b``, ``[N, out_features]``."""
        x = x.reshape(x.shape[0], self.in_features)  # [N, ...] -> [N, in_features]
        return self.linear(x)  # [N, out_features]

    @staticmethod
    def step(activation: torch.Tensor) -> torch.Tensor:
        """The perceptron's decision: 1 where ``activation >= 0``, else 0 (same shape and dtype)."""
        return (activation >= 0).to(activation.dtype)


__all__ = ["Perceptron"]
