"""The small networks agents are made of: a multilayer perceptron from an observation to outputs."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(inputs: int, hidden: list[int] | tuple[int, ...], outputs: int,
        activation: Literal["tanh", "relu"] = "tanh", last_gain: float | None = None) -> nn.Sequential:
    """``inputs -> hidden... -> outputs`` with ``activation`` between layers (none after the last).

    ``last_gain`` scales the last layer's initial weights (e.g. 0.01 for a policy head, so that
    the first policy is nearly uniform, as PPO implementations start).
    """
    sizes = [inputs, *hidden, outputs]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if last_gain is not None:
        with torch.no_grad():
            layers[-1].weight.mul_(last_gain)
            layers[-1].bias.zero_()
    return nn.Sequential(*layers)
