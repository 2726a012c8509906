"""Weight-initialisation schemes by name: ``default``, ``xavier``, ``he``.

The scale of the initial weights decides whether signals and gradients keep
their size through a deep network. Two classic recipes choose it from the
layer's fan-in and fan-out and from a *gain* that undoes the shrinking (tanh,
sigmoid) or halving (ReLU) done by the activation:

- ``xavier`` (Glorot & Bengio 2010): uniform weights with variance
  ``gain² · 2 / (fan_in + fan_out)``, keeping forward and backward variances
  balanced; the recipe for tanh- and sigmoid-like activations.
- ``he`` (He, Zhang, Ren & Sun 2015, "Delving deep into rectifiers"): normal
  weights with variance ``gain² / fan_in`` (``2 / fan_in`` for ReLU), keeping
  the forward variance constant through rectifiers.
- ``default``: PyTorch's own initialisation (``reset_parameters`` of each
  layer: Kaiming-uniform with a = √5, i.e. variance ``1 / (3 fan_in)``).

``xavier`` and ``he`` set the biases to zero. They touch only the weights of
dense and convolution layers (``nn.Linear``, ``nn.Conv*d``,
``nn.ConvTranspose*d``); normalisation layers and embeddings keep their own
initialisation.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field
from torch import nn

from quanta.errors import UserError, unknown_name
from quanta.models.activations import ACTIVATIONS

InitScheme = Literal["default", "xavier", "he"]
INIT_SCHEMES: tuple[str, ...] = get_args(InitScheme)
"""The initialisation schemes a model or config may name."""
Init = Annotated[InitScheme, Field(description=f"one of {', '.join(INIT_SCHEMES)}")]
"""A model's ``init`` hyperparameter (checked by the registry, see :mod:`quanta.models.hints`)."""

_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)

# quanta activation -> (torch nonlinearity name, its parameter) for the gain.
# PyTorch knows gains for linear, sigmoid, tanh, relu and leaky_relu; the
# smooth rectifiers (elu, softplus, gelu, silu) are treated as relu, as is
# common practice, and prelu as leaky_relu at its initial slope 0.25.
_GAIN: dict[str, tuple[str, float | None]] = {
    "identity": ("linear", None),
    "sigmoid": ("sigmoid", None),
    "tanh": ("tanh", None),
    "relu": ("relu", None),
    "leaky_relu": ("leaky_relu", 0.01),
    "prelu": ("leaky_relu", 0.25),
    "elu": ("relu", None),
    "softplus": ("relu", None),
    "gelu": ("relu", None),
    "silu": ("relu", None),
}


def gain(activation: str) -> float:
    """The recommended weight gain for a layer followed by ``activation``."""
    if activation not in _GAIN:
        raise unknown_name("activation", activation, ACTIVATIONS)
    nonlinearity, param = _GAIN[activation]
    return nn.init.calculate_gain(nonlinearity, param)


def initialise(module: nn.Module, scheme: str, activation: str) -> None:
    """Initialise, in place, the dense and convolution layers inside ``module``.

    Args:
        module: any module; every ``nn.Linear``/``nn.Conv*`` in it is set.
        scheme: one of :data:`INIT_SCHEMES`.
        activation: the activation that follows the layers (one of
            ``quanta.models.activations.ACTIVATIONS``); it sets the gain.

    Raises :class:`quanta.errors.UserError` for an unknown scheme or
    activation.
    """
    if scheme not in INIT_SCHEMES:
        raise UserError(
            f"unknown init scheme '{scheme}'; allowed: {', '.join(INIT_SCHEMES)}"
        )
    if activation not in _GAIN:
        raise unknown_name("activation", activation, ACTIVATIONS)
    nonlinearity, param = _GAIN[activation]
    for layer in module.modules():
        if not isinstance(layer, _LAYERS):
            continue
        if scheme == "default":
            layer.reset_parameters()
            continue
        if scheme == "xavier":
            nn.init.xavier_uniform_(layer.weight, gain=gain(activation))
        else:  # he: fan_in keeps the forward-pass variance constant
            nn.init.kaiming_normal_(
                layer.weight, a=param or 0.0, mode="fan_in", nonlinearity=nonlinearity
            )
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


__all__ = ["INIT_SCHEMES", "Init", "InitScheme", "gain", "initialise"]
