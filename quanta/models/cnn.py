"""A configurable convolutional network for signals, images and volumes.

The lecture's CNN: a stack of convolution blocks that detect local patterns
(edges, then shapes, then objects) with weights shared over positions, each
block followed by a downsampling step (pooling, or a strided convolution)
that halves the resolution while the number of channels grows, then a global
pooling that forgets where a feature fired, and a small dense head.
Convolutions are translation-*equivariant* (a shifted input gives a shifted
feature map); with global pooling the network becomes (nearly)
translation-*invariant*. The same code runs in 1D (``[N, C, L]``: pulses,
scattering curves), 2D (``[N, C, H, W]``: jet and calorimeter images) and 3D
(``[N, C, D, H, W]``: calorimeter volumes).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.conv import (
    ConvBlock,
    Dims,
    GlobalPool,
    Norm,
    Padding,
    Pool,
    output_shape,
    pooling,
    spatial_dims,
)
from quanta.models.hints import Probability, Size, Stages, Widths
from quanta.registry import checked


class CNN(nn.Module):
    """Convolutional network (1D/2D/3D): conv blocks with stride, padding, dilation, pooling, then a dense head

    Block ``b`` is ``convs_per_block`` :class:`~quanta.models.conv.ConvBlock`
    s (convolution -> norm -> activation) with ``channels[b]`` output
    channels, followed by downsampling by 2: a ``pool`` layer
    (``downsample="pool"``) or, with ``downsample="stride"``, stride 2 in the
    block's first convolution (learned downsampling, as in all-convolutional
    networks). Then :class:`~quanta.models.conv.GlobalPool` over all
    positions, and a dense head ``hidden -> out_features`` returning raw
    outputs. Pooling keeps a last partial window (``ceil_mode``), so a small
    input shrinks to one pixel and no further.

    Args:
        in_channels: input channels (1 for a calorimeter image, 3 for RGB).
        out_features: outputs per sample.
        dims: spatial dimensions of the input: 1, 2 or 3 (``for_data`` reads
            it from the data).
        channels: output channels of each block.
        convs_per_block: convolutions in each block.
        kernel_size: kernel width of every convolution.
        padding: ``"same"`` (keep the size) or zeros added on each side
            (0: "valid" convolutions that shrink the map by ``kernel_size - 1``).
        dilation: spacing between kernel taps.
        separable: depthwise-separable convolutions (fewer weights).
        downsample: ``"pool"`` or ``"stride"`` (see above); ``"none"`` keeps
            the resolution.
        pool: ``"max"``, ``"avg"`` or ``"stochastic"`` (downsample ``"pool"``).
        pool_size: pooling window and stride.
        global_pool: ``"avg"`` or ``"max"`` over the last feature map.
        hidden: widths of the dense head's hidden layers (``()``: linear head).
        norm: ``"batch"``, ``"group"``, ``"layer"`` or ``"none"``.
        activation: one of ``quanta.models.activations.ACTIVATIONS``.
        dropout: dropout before each dense layer of the head.

    Shapes:
        - input ``x``: ``[N, in_channels, *S]`` with ``len(S) == dims``.
        - output: ``[N, out_features]``.

    Reference:
        Y. LeCun, B. Boser, J. S. Denker et al., "Backpropagation applied to
        handwritten zip code recognition", Neural Computation 1, 541 (1989);
        J. T. Springenberg et al., "Striving for simplicity: the all
        convolutional net", arXiv:1412.6806 (2014) (strided downsampling).
    """

    inputs = ("x",)

    @checked("cnn")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        dims: Annotated[Dims, Field(description="1, 2 or 3")] = 2,
        channels: Stages = (16, 32, 64),
        convs_per_block: Size = 1,
        kernel_size: Size = 3,
        padding: Annotated[Padding, Field(description="'same' or a non-negative integer")] = "same",
        dilation: Size = 1,
        separable: bool = False,
        downsample: Annotated[Literal["pool", "stride", "none"], Field(description="one of pool, stride, none")] = "pool",
        pool: Annotated[Pool, Field(description="one of max, avg, stochastic")] = "max",
        pool_size: Size = 2,
        global_pool: Annotated[Literal["avg", "max"], Field(description="'avg' or 'max'")] = "avg",
        hidden: Widths = (64,),
        norm: Annotated[Norm, Field(description="one of none, batch, group, layer")] = "batch",
        activation: Activation = "relu",
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_features, self.dims = in_channels, out_features, dims
        self.channels, self.convs_per_block, self.kernel_size = channels, convs_per_block, kernel_size
        self.padding, self.dilation, self.separable = padding, dilation, separable
        self.downsample, self.pool, self.pool_size = downsample, pool, pool_size
        self.hidden, self.norm, self.activation, self.dropout = hidden, norm, activation, dropout

        blocks: list[nn.Module] = []
        width_in = in_channels
        try:  # the blocks still refuse an unknown activation, and 'same' padding with stride 2 and an even kernel
            for width in channels:
                layers: list[nn.Module] = []
                for i in range(convs_per_block):
                    stride = 2 if downsample == "stride" and i == 0 else 1
                    layers.append(ConvBlock(width_in if i == 0 else width, width, dims, kernel_size, stride,
                                            padding, dilation, separable, norm, activation))
                if downsample == "pool":
                    layers.append(pooling(pool, dims, pool_size, ceil_mode=True))
                blocks.append(nn.Sequential(*layers))
                width_in = width
        except UserError as error:
            raise UserError(f"cnn: {error}") from None
        self.blocks = nn.Sequential(*blocks)
        self.global_pool = GlobalPool(global_pool)
        head: list[nn.Module] = []
        for width in hidden:
            head += [nn.Dropout(dropout)] if dropout else []
            head += [nn.Linear(width_in, width), make_activation(activation)]
            width_in = width
        head += [nn.Dropout(dropout)] if dropout else []
        head.append(nn.Linear(width_in, out_features))
        self.head = nn.Sequential(*head)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> CNN:
        """A CNN for inputs ``x`` of per-sample shape ``(C, *S)``; ``dims = len(S)``."""
        shape = tuple(shapes["x"])
        spatial_dims("cnn", shape, params)
        model = cls(in_channels=shape[0], out_features=out_features, **params)
        model.feature_shape(shape[1:])  # a clear error now if the input is too small
        return model

    def feature_shape(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """Spatial shape of the last feature map for an input of spatial shape ``spatial``.

        Raises a UserError naming the block where the map would vanish.
        """
        shape = tuple(spatial)
        for b in range(len(self.channels)):
            for i in range(self.convs_per_block):
                stride = 2 if self.downsample == "stride" and i == 0 else 1
                shape = output_shape(shape, self.kernel_size, stride, self.padding, self.dilation)
                if min(shape) < 1:
                    raise UserError(f"cnn: an input of size {tuple(spatial)} vanishes in block {b} "
                                    f"(kernel_size {self.kernel_size}, padding {self.padding!r}); "
                                    "use padding 'same' or fewer blocks")
            if self.downsample == "pool":
                shape = output_shape(shape, self.pool_size, self.pool_size, ceil_mode=True)
        return shape

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[N, channels[-1]]`` for inputs ``[N, C, *S]``."""
        return self.global_pool(self.blocks(x))  # [N, C', *S'] -> [N, C']

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for inputs ``[N, in_channels, *S]``."""
        return self.head(self.forward_features(x))  # [N, out_features]


__all__ = ["CNN"]
