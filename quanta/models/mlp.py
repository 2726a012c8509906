"""The multilayer perceptron: the first neural network of every lecture.

A stack of dense (fully connected) layers, each followed by an optional
normalisation, a nonlinearity and optional dropout, then a final dense layer
that gives the raw outputs. With no hidden layer it is a linear model
(logistic regression once a task puts a sigmoid loss on it), which cannot
learn XOR; one hidden layer can, and by the universal approximation theorem
a wide enough one approximates any continuous function on a compact set.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.drop_connect import dense
from quanta.models.hints import Probability, Size, Widths
from quanta.models.init import Init, initialise
from quanta.registry import checked

Norm = Literal["none", "batch", "layer"]
NORMS: tuple[str, ...] = get_args(Norm)


class MLP(nn.Module):
    """Multilayer perceptron: dense layers with a chosen activation, dropout, normalisation and init

    Each hidden layer is ``Linear -> norm -> activation -> dropout``; the last
    layer is a plain ``Linear`` whose outputs are returned raw (logits for
    classification, values for regression): the task owns the loss. Inputs
    with more than one feature axis (images, padded particle lists) are
    flattened from dimension 1 on.

    Args:
        in_features: number of input features per sample (after flattening).
        out_features: number of outputs per sample (1 for binary
            classification or scalar regression, C for C classes).
        hidden: widths of the hidden layers, input side first; ``()`` gives a
            linear model.
        activation: nonlinearity after each hidden layer, one of
            ``quanta.models.activations.ACTIVATIONS``.
        dropout: probability of zeroing a hidden unit during training, in
            [0, 1); 0 adds no dropout layers.
        norm: ``"batch"`` (BatchNorm1d over the batch), ``"layer"``
            (LayerNorm over the features of each sample) or ``"none"``.
        init: weight initialisation, ``"default"`` (PyTorch's), ``"xavier"``
            or ``"he"``; see :mod:`quanta.models.init`.
        drop_connect: probability of dropping each weight of the hidden
            layers during training (DropConnect, Wan et al. 2013; see
            :mod:`quanta.models.drop_connect`), in [0, 1); 0 keeps plain
            ``nn.Linear`` layers. The output layer is never dropped.

    Shapes:
        - input ``x``: ``[N, in_features]``, or ``[N, d1, d2, ...]`` with
          ``d1 * d2 * ... == in_features``.
        - output: ``[N, out_features]``.

    Reference:
        D. E. Rumelhart, G. E. Hinton and R. J. Williams, "Learning
        representations by back-propagating errors", Nature 323, 533 (1986).
    """

    inputs = ("x",)  # the batch arrays forward() takes, in order

    @checked("mlp")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        hidden: Widths = (64, 64),
        activation: Activation = "relu",
        dropout: Probability = 0.0,
        norm: Annotated[Norm, Field(description="one of none, batch, layer")] = "none",
        init: Init = "default",
        drop_connect: Probability = 0.0,
    ) -> None:
        super().__init__()

        self.in_features = in_features
        self.out_features = out_features
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.norm = norm
        self.init = init
        self.drop_connect = drop_connect

        layers: list[nn.Module] = []
        width_in = in_features
        for width in hidden:
            layers.append(dense(width_in, width, drop_connect))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif norm == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = width
        layers.append(nn.Linear(width_in, out_features))
        self.layers = nn.Sequential(*layers)
        if init != "default":  # the layers were just built with PyTorch's default
            initialise(self, init, activation)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> MLP:
        """An MLP for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for inputs ``[N, ...]``."""
        x = x.reshape(x.shape[0], self.in_features)  # [N, ...] -> [N, in_features]
        return self.layers(x)  # [N, out_features]


__all__ = ["MLP", "NORMS"]
