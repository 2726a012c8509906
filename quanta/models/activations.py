"""Activation functions by name, so that a config file can choose one.

Every model that takes an ``activation`` argument builds it here, so the
names mean the same thing everywhere and an unknown name gets one clear error
listing the allowed ones. Each call returns a fresh module: ``prelu`` has a
learnable slope, which must not be shared between layers by accident.

The parameters are PyTorch's defaults: ``leaky_relu`` has slope 0.01 for
x < 0, ``prelu`` starts at slope 0.25, ``elu`` has alpha = 1, ``softplus``
has beta = 1, and ``gelu`` is the exact form x Φ(x) with Φ the standard
normal distribution function (not the tanh approximation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, get_args

from pydantic import Field
from torch import nn

from quanta.errors import unknown_name

ActivationName = Literal["identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "softplus", "gelu",
                         "silu"]
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
"""The activation names a model or config may use."""
Activation = Annotated[ActivationName, Field(description=f"one of {', '.join(ACTIVATIONS)}")]
"""A model's ``activation`` hyperparameter (checked by the registry, see :mod:`quanta.models.hints`)."""

_TABLE: dict[str, Callable[[], nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def activation(name: str) -> nn.Module:
    """A new activation module for ``name`` (one of :data:`ACTIVATIONS`).

    Raises :class:`quanta.errors.UserError` for an unknown name, suggesting
    the closest allowed one.
    """
    if name not in _TABLE:
        raise unknown_name("activation", name, ACTIVATIONS)
    return _TABLE[name]()


__all__ = ["ACTIVATIONS", "Activation", "ActivationName", "activation"]
