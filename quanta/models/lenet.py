"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998): the convolutional network of the lectures.

A 32x32 image passes through C1 (6 maps, 5x5 convolution: 28x28), S2
(2x2 subsampling: 14x14), C3 (16 maps, 5x5: 10x10), S4 (5x5), C5 (120 maps,
5x5: 1x1, in effect a dense layer), F6 (84 units) and the output layer: about
60,000 weights, most of them in C5. It introduced the pattern every CNN since
has followed: local receptive fields, shared weights, and subsampling,
alternating, then dense layers.

Differences from the paper, each the modern reading of it: the output layer
is a linear layer giving logits (the paper used Euclidean RBF units), the
subsampling layers are plain average (or max) pooling (the paper's had a
trainable coefficient and bias), and tanh is the plain ``tanh`` (the paper
scaled it, 1.7159 tanh(2a/3)). The paper's sparse C3 connection table, which
links each C3 map to only 3, 4 or 6 of the S2 maps, is an option.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.conv import output_size, pooling
from quanta.models.hints import Size
from quanta.registry import checked

# Table I of the paper: the S2 maps (0-5) that feed each of the 16 C3 maps.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    *((j, (j + 1) % 6, (j + 2) % 6) for j in range(6)),  # 6 maps from 3 neighbouring S2 maps
    *((j, (j + 1) % 6, (j + 2) % 6, (j + 3) % 6) for j in range(6)),  # 6 from 4 neighbours
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),  # 3 from 4 non-neighbours
    (0, 1, 2, 3, 4, 5),  # 1 from all six
)


class ConnectionTableConv2d(nn.Conv2d):
    """LeNet's C3: a 6 -> 16 map 5x5 convolution, each output map seeing only the input maps of a table.

    With ``table=None`` every output map sees all six inputs (a plain
    convolution). Unconnected weights are multiplied by zero in the forward
    pass, so they neither act nor learn, whatever the optimiser does.

    Shapes:
        - input: ``[N, 6, H, W]``; output: ``[N, 16, H - 4, W - 4]``.
    """

    def __init__(self, table: tuple[tuple[int, ...], ...] | None = C3_TABLE) -> None:
        super().__init__(6, 16, 5)
        mask = torch.ones(16, 6, 1, 1)
        if table is not None:
            mask.zero_()
            for target, sources in enumerate(table):
                mask[target, list(sources)] = 1.0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)  # [N, 16, H - 4, W - 4]


class LeNet5(nn.Module):
    """LeNet-5: two convolution and pooling stages and three dense layers (LeCun et al. 1998)

    ``C1 (6@5x5) - S2 - C3 (16@5x5) - S4 - C5 (120@5x5) - F6 (84) - output``,
    each convolution and F6 followed by ``activation``. C5 is a 5x5
    convolution, which on the paper's 32x32 input leaves a 1x1 map (a dense
    layer); a larger input leaves a larger map, which is flattened into F6,
    so the network accepts any input of at least 32x32 pixels (pad smaller
    images, e.g. 28x28 MNIST by 2, or use ``digits`` with ``resolution=32``).

    Args:
        in_channels: input channels (1: grey-scale).
        out_features: outputs (10 for digits).
        input_shape: ``(H, W)`` of the input images, at least 32x32.
        activation: ``"tanh"`` as in the paper, or e.g. ``"relu"``.
        pool: ``"avg"`` (the paper's subsampling) or ``"max"``.
        sparse_c3: connect C3 to the S2 maps by the paper's Table I (60 of
            the 96 map pairs: 1,516 instead of 2,416 weights), which the
            paper says breaks the symmetry between the C3 maps.

    Shapes:
        - input ``x``: ``[N, in_channels, H, W]``.
        - output: ``[N, out_features]``.

    Reference:
        Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
        learning applied to document recognition", Proc. IEEE 86, 2278 (1998).
    """

    inputs = ("x",)

    @checked("lenet5")
    def __init__(
        self,
        in_channels: Size = 1,
        out_features: Size = 10,
        input_shape: tuple[int, int] = (32, 32),
        activation: Activation = "tanh",
        pool: Annotated[Literal["avg", "max"], Field(description="'avg' or 'max'")] = "avg",
        sparse_c3: bool = False,
    ) -> None:
        super().__init__()
        if min(input_shape) < 32:
            raise UserError(f"lenet5: input images must be at least 32x32 pixels (the paper's size), received "
                            f"{input_shape}; pad them, or use digits with resolution=32")
        self.in_channels, self.out_features, self.input_shape = in_channels, out_features, input_shape
        self.activation, self.pool, self.sparse_c3 = activation, pool, sparse_c3

        # 32 -> C1 28 -> S2 14 -> C3 10 -> S4 5 -> C5 1
        c5_shape = tuple(output_size(output_size(output_size(output_size(output_size(n, 5), 2, 2), 5), 2, 2), 5)
                         for n in input_shape)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), make_activation(activation),  # C1
            pooling(pool, 2, 2),  # S2
            ConnectionTableConv2d(C3_TABLE if sparse_c3 else None), make_activation(activation),  # C3
            pooling(pool, 2, 2),  # S4
            nn.Conv2d(16, 120, 5), make_activation(activation),  # C5
        )
        self.classifier = nn.Sequential(
            nn.Linear(120 * c5_shape[0] * c5_shape[1], 84), make_activation(activation),  # F6
            nn.Linear(84, out_features),  # output
        )

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> LeNet5:
        """LeNet-5 for images ``x`` of per-sample shape ``(C, H, W)``."""
        shape = tuple(shapes["x"])
        if len(shape) != 3:
            raise UserError(f"lenet5: inputs x must be images [N, C, H, W], received per-sample shape {shape}")
        return cls(in_channels=shape[0], out_features=out_features, input_shape=shape[1:], **params)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The 84 F6 activations ``[N, 84]`` for images ``[N, C, H, W]``."""
        x = self.features(x).flatten(1)  # [N, 120, h, w] -> [N, 120 h w]
        return self.classifier[:2](x)  # [N, 84]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for images ``[N, in_channels, H, W]``."""
        return self.classifier[2](self.forward_features(x))  # [N, out_features]


__all__ = ["C3_TABLE", "ConnectionTableConv2d", "LeNet5"]
