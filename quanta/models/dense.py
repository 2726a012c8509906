"""Deep dense networks that stay trainable: highway networks and residual MLPs.

A plain MLP gets harder to train as it gets deeper: gradients shrink or grow
through every layer. Two remedies give the signal a path around each layer:

- **Highway networks** (Srivastava, Greff & Schmidhuber, "Training Very Deep
  Networks", NeurIPS 2015): each layer mixes its transform ``H(x)`` with its
  input, ``y = H(x) * T(x) + x * (1 - T(x))``, through a learned sigmoid
  *transform gate* ``T``. The gate bias starts negative (here -2), so every
  layer starts close to the identity (carry) and learns when to transform.
- **Residual networks** (He, Zhang, Ren & Sun, CVPR 2016 and "Identity
  Mappings in Deep Residual Networks", ECCV 2016): ``y = x + F(x)`` with an
  identity shortcut, the gate fixed open. Here ``F`` is the pre-activation
  branch ``norm -> act -> linear -> norm -> act -> dropout -> linear``.

How a residual branch starts matters for deep stacks; ``residual_init``:

- ``standard``: every layer by the ``init`` scheme;
- ``small``: the last layer of each branch scaled by ``1 / sqrt(blocks)``,
  so the sum of the branches keeps unit scale (as GPT-2 scales its residual
  projections);
- ``zero``: the last layer of each branch zero — every block starts as the
  identity (the "zero-gamma" trick of Goyal et al. 2017);
- ``fixup`` (Zhang, Dauphin & Ma, "Fixup Initialization: Residual Learning
  Without Normalization", ICLR 2019): no normalisation layers; scalar biases
  before each layer and activation and a scalar multiplier per branch; the
  first layer of each branch He-initialised and scaled by
  ``blocks ** (-1 / (2m - 2)) = blocks ** -0.5`` (m = 2 layers per branch),
  the last layer of each branch and the output layer zero.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.drop_connect import dense
from quanta.models.hints import Probability, Size
from quanta.models.init import Init, initialise
from quanta.models.mlp import Norm
from quanta.registry import checked

ResidualInit = Literal["standard", "small", "zero", "fixup"]


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    return nn.Identity()


class HighwayLayer(nn.Module):
    """``y = H(x) * T(x) + x * (1 - T(x))`` with ``H = act(W_H x + b_H)`` and ``T = sigmoid(W_T x + b_T)``.

    Shapes: input ``[N, width]`` -> output ``[N, width]``.
    """

    def __init__(self, width: int, activation: str = "relu", gate_bias: float = -2.0,
                 dropout: float = 0.0, drop_connect: float = 0.0) -> None:
        super().__init__()
        self.transform = dense(width, width, drop_connect)
        self.gate = nn.Linear(width, width)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.gate_bias = gate_bias
        self.reset_gate()

    def reset_gate(self) -> None:
        """Set the gate bias to ``gate_bias`` (negative: start by carrying the input)."""
        nn.init.constant_(self.gate.bias, self.gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(self.activation(self.transform(x)))  # [N, width]
        t = torch.sigmoid(self.gate(x))  # [N, width], in (0, 1)
        return x + t * (h - x)  # = h t + x (1 - t)


class HighwayNetwork(nn.Module):
    """Highway network: dense layers with learned transform and carry gates

    An input layer ``Linear(in_features, width) -> activation`` brings the
    inputs to the constant width the gates need, ``depth`` highway layers
    follow, and a ``Linear(width, out_features)`` gives the raw outputs.

    Args:
        in_features: inputs per sample (after flattening).
        out_features: outputs per sample.
        width: units of every highway layer.
        depth: number of highway layers.
        activation: nonlinearity of the transforms ``H`` (``quanta.models.activations``).
        gate_bias: initial bias of the transform gates; negative values
            (the paper: -1 to -3) start every layer close to the identity.
        dropout: dropout on each transform's output, in [0, 1).
        drop_connect: DropConnect probability of the transform weights, in [0, 1).
        init: ``default``, ``xavier`` or ``he`` for the dense layers (gate biases keep ``gate_bias``).

    Shapes:
        - input ``x``: ``[N, in_features]`` or ``[N, d1, d2, ...]`` (flattened).
        - output: ``[N, out_features]``.

    Reference:
        R. K. Srivastava, K. Greff and J. Schmidhuber, "Training Very Deep
        Networks", NeurIPS 2015, arXiv:1507.06228.
    """

    inputs = ("x",)

    @checked("highway")
    def __init__(self, in_features: Size, out_features: Size = 1, width: Size = 64, depth: Size = 4,
                 activation: Activation = "relu", gate_bias: float = -2.0, dropout: Probability = 0.0,
                 drop_connect: Probability = 0.0, init: Init = "default") -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.width = width
        self.depth = depth
        self.activation = activation
        self.gate_bias = gate_bias
        self.dropout = dropout
        self.drop_connect = drop_connect
        self.init = init
        self.stem = nn.Sequential(nn.Linear(in_features, width), make_activation(activation))
        self.layers = nn.Sequential(*(HighwayLayer(width, activation, gate_bias, dropout, drop_connect)
                                      for _ in range(depth)))
        self.head = nn.Linear(width, out_features)
        if init != "default":
            initialise(self, init, activation)
            for layer in self.layers:
                layer.reset_gate()

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> HighwayNetwork:
        """A highway network for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], self.in_features)  # [N, ...] -> [N, in_features]
        return self.head(self.layers(self.stem(x)))  # [N, out_features]


class ResidualBlock(nn.Module):
    """``y = x + F(x)``; ``F`` is ``norm -> act -> linear -> norm -> act -> dropout -> linear``.

    With ``fixup=True`` there is no normalisation and ``F`` is
    ``linear(x + b1) -> act(. + b2) -> dropout -> linear(. + b3) * scale + b4``
    with learnable scalars ``b1..b4`` (start 0) and ``scale`` (start 1).

    Shapes: input ``[N, width]`` -> output ``[N, width]``.
    """

    def __init__(self, width: int, activation: str = "relu", norm: str = "layer", dropout: float = 0.0,
                 drop_connect: float = 0.0, fixup: bool = False) -> None:
        super().__init__()
        self.fixup = fixup
        self.norm1 = _norm("none" if fixup else norm, width)
        self.norm2 = _norm("none" if fixup else norm, width)
        self.act1 = make_activation(activation)
        self.act2 = make_activation(activation)
        self.linear1 = dense(width, width, drop_connect, bias=not fixup)
        self.linear2 = dense(width, width, drop_connect, bias=not fixup)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if fixup:
            self.biases = nn.Parameter(torch.zeros(4))  # b1..b4 of the Fixup paper
            self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixup:
            b = self.biases
            h = self.dropout(self.act1(self.linear1(x + b[0]) + b[1]))  # [N, width]
            return x + self.linear2(h + b[2]) * self.scale + b[3]  # [N, width]
        h = self.linear1(self.act1(self.norm1(x)))  # [N, width]
        return x + self.linear2(self.dropout(self.act2(self.norm2(h))))  # [N, width]


class ResidualMLP(nn.Module):
    """Residual MLP: dense blocks with identity shortcuts and normalisation

    ``Linear(in_features, width)``, then ``blocks`` residual blocks
    ``x + F(x)`` (pre-activation: ``F = norm -> act -> linear -> norm -> act
    -> dropout -> linear``), then ``norm -> act -> Linear(width, out_features)``.
    The identity shortcuts let gradients reach the first layers undiminished,
    so depth costs little trainability.

    Args:
        in_features: inputs per sample (after flattening).
        out_features: outputs per sample.
        width: units of every block.
        blocks: number of residual blocks (two dense layers each).
        activation: nonlinearity (``quanta.models.activations``).
        norm: ``layer``, ``batch`` or ``none``; must be ``none`` with Fixup.
        dropout: dropout inside each branch, in [0, 1).
        drop_connect: DropConnect probability of the branch weights, in [0, 1).
        init: ``default``, ``xavier`` or ``he`` for the dense layers.
        residual_init: ``standard``, ``small`` (last layer of each branch
            scaled by ``1/sqrt(blocks)``), ``zero`` (last layer of each branch
            zero) or ``fixup`` (see the module docstring).

    Shapes:
        - input ``x``: ``[N, in_features]`` or ``[N, d1, d2, ...]`` (flattened).
        - output: ``[N, out_features]``.

    Reference:
        K. He, X. Zhang, S. Ren and J. Sun, "Identity Mappings in Deep Residual
        Networks", ECCV 2016, arXiv:1603.05027; H. Zhang, Y. N. Dauphin and
        T. Ma, "Fixup Initialization", ICLR 2019, arXiv:1901.09321.
    """

    inputs = ("x",)

    @checked("residual_mlp")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        width: Size = 64,
        blocks: Size = 2,
        activation: Activation = "relu",
        norm: Annotated[Norm, Field(description="one of none, batch, layer")] = "layer",
        dropout: Probability = 0.0,
        drop_connect: Probability = 0.0,
        init: Init = "default",
        residual_init: Annotated[ResidualInit, Field(description="one of standard, small, zero, fixup")] = "standard",
    ) -> None:
        super().__init__()
        fixup = residual_init == "fixup"
        if fixup and norm != "none":
            raise UserError("residual_mlp: residual_init 'fixup' trains without normalisation; set norm 'none'")
        self.in_features = in_features
        self.out_features = out_features
        self.width = width
        self.blocks = blocks
        self.activation = activation
        self.norm = norm
        self.dropout = dropout
        self.drop_connect = drop_connect
        self.init = init
        self.residual_init = residual_init
        self.stem = nn.Linear(in_features, width)
        self.layers = nn.Sequential(*(ResidualBlock(width, activation, norm, dropout, drop_connect, fixup)
                                      for _ in range(blocks)))
        self.final = nn.Sequential(_norm(norm, width), make_activation(activation))
        self.head = nn.Linear(width, out_features)
        self._initialise()

    def _initialise(self) -> None:
        if self.init != "default":
            initialise(self, self.init, self.activation)
        if self.residual_init == "small":
            with torch.no_grad():
                for block in self.layers:
                    block.linear2.weight.mul_(self.blocks ** -0.5)
        elif self.residual_init == "zero":
            for block in self.layers:
                nn.init.zeros_(block.linear2.weight)
                nn.init.zeros_(block.linear2.bias)
        elif self.residual_init == "fixup":
            for block in self.layers:
                initialise(block.linear1, "he", self.activation)
                with torch.no_grad():
                    block.linear1.weight.mul_(self.blocks ** -0.5)  # L^(-1/(2m-2)) with m = 2
                nn.init.zeros_(block.linear2.weight)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> ResidualMLP:
        """A residual MLP for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], self.in_features)  # [N, ...] -> [N, in_features]
        return self.head(self.final(self.layers(self.stem(x))))  # [N, out_features]


__all__ = ["HighwayLayer", "HighwayNetwork", "ResidualBlock", "ResidualMLP"]
