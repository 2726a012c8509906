"""Spatial transformer networks (Jaderberg, Simonyan, Zisserman & Kavukcuoglu 2015).

A convolutional network is equivariant to shifts but not to rotations,
scalings or shears, and its pooling gives only a little local invariance. A
spatial transformer is a differentiable layer that *undoes* such
transformations: a small localisation network looks at the input and
predicts the parameters theta of an affine map; a grid generator maps every
output pixel to a source position in the input (``F.affine_grid``); a
sampler interpolates the input there (``F.grid_sample``, bilinear). Since
each step is differentiable, theta is learned from the task's loss alone,
with no labels for the alignment. The localisation network's last layer
starts at zero weights and the identity bias, so training starts from "do
nothing".
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.cnn import CNN
from quanta.models.conv import (
    ConvBlock,
    Norm,
    Pool,
    check_positive,
    check_widths,
    pooling,
    spatial_dims,
)
from quanta.models.hints import Probability, Size, Stages, Widths
from quanta.registry import checked

_ADAPTIVE_POOL = {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
LOCALISATION_GRID = 4  # the localisation features are averaged onto 4 (x 4 (x 4)) cells: any input size works


class SpatialTransformer(nn.Module):
    """A layer that learns an affine map of its input and resamples it (output size = input size).

    Localisation network: ``len(channels)`` 3x3 convolution blocks (ReLU,
    no normalisation), each followed by 2x2 max pooling, adaptive average
    pooling onto a ``4^D`` grid, a dense layer of ``hidden`` units and a
    dense layer giving theta, ``D x (D + 1)`` numbers (``[A | t]``: an
    output position ``p`` in normalised coordinates [-1, 1] samples the
    input at ``A p + t``). That last layer starts with zero weights and the
    identity bias: the layer starts as the identity.

    Args:
        in_channels: channels of the input (all are moved alike).
        dims: 2 (images) or 3 (volumes).
        channels: channels of the localisation convolutions.
        hidden: units of the localisation network's dense layer.
        padding_mode: what is sampled outside the input: ``"zeros"``,
            ``"border"`` or ``"reflection"``.

    Shapes:
        - input ``x``: ``[N, C, *S]`` with ``len(S) == dims``.
        - output: ``[N, C, *S]``; :meth:`theta` gives ``[N, dims, dims + 1]``.

    Reference:
        M. Jaderberg, K. Simonyan, A. Zisserman and K. Kavukcuoglu, "Spatial
        transformer networks", NeurIPS 2015, arXiv:1506.02025.
    """

    def __init__(self, in_channels: int, dims: Literal[2, 3] = 2, channels: tuple[int, ...] = (8, 16),
                 hidden: int = 32, padding_mode: Literal["zeros", "border", "reflection"] = "zeros") -> None:
        super().__init__()
        channels = check_widths("channels", channels, "spatial transformer")
        check_positive("in_channels", in_channels, "spatial transformer")
        check_positive("hidden", hidden, "spatial transformer")
        if dims not in (2, 3):
            raise UserError(f"spatial transformer: dims must be 2 (images) or 3 (volumes), received {dims!r}")
        if padding_mode not in ("zeros", "border", "reflection"):
            raise UserError(f"spatial transformer: padding_mode must be zeros, border or reflection, "
                            f"received {padding_mode!r}")
        self.dims, self.padding_mode = dims, padding_mode
        layers: list[nn.Module] = []
        width_in = in_channels
        for width in channels:
            layers += [ConvBlock(width_in, width, dims, 3, norm="none"), pooling("max", dims, 2, ceil_mode=True)]
            width_in = width
        layers.append(_ADAPTIVE_POOL[dims](LOCALISATION_GRID))
        self.localisation = nn.Sequential(*layers)
        self.regressor = nn.Sequential(nn.Linear(width_in * LOCALISATION_GRID**dims, hidden), nn.ReLU(),
                                       nn.Linear(hidden, dims * (dims + 1)))
        nn.init.zeros_(self.regressor[-1].weight)
        with torch.no_grad():  # the identity map [I | 0], row by row
            self.regressor[-1].bias.copy_(torch.eye(dims, dims + 1).flatten())

    def theta(self, x: torch.Tensor) -> torch.Tensor:
        """The affine maps ``[N, dims, dims + 1]`` for inputs ``[N, C, *S]``."""
        features = self.localisation(x).flatten(1)  # [N, channels[-1] * 4^dims]
        return self.regressor(features).view(-1, self.dims, self.dims + 1)  # [N, dims, dims + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The input resampled on the learned grid, ``[N, C, *S] -> [N, C, *S]``."""
        theta = self.theta(x)  # [N, dims, dims + 1]
        # align_corners=False: coordinates -1 and 1 are the outer edges of the edge pixels
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # [N, *S, dims]
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding_mode, align_corners=False)


class SpatialTransformerCNN(nn.Module):
    """CNN behind a spatial transformer that learns to align its input

    A :class:`SpatialTransformer` resamples the input (learning, from the
    task's loss alone, to centre, straighten and scale what it sees) and a
    :class:`~quanta.models.cnn.CNN` classifies or regresses the result.

    Args:
        in_channels: input channels.
        out_features: outputs per sample.
        dims: 2 (images) or 3 (volumes); ``for_data`` reads it.
        localisation_channels: channels of the localisation convolutions.
        localisation_hidden: units of the localisation dense layer.
        channels: channels of the CNN's blocks (each followed by 2x2 pooling).
        pool: the CNN's pooling, ``"max"``, ``"avg"`` or ``"stochastic"``.
        hidden: the CNN's dense head.
        norm: the CNN's normalisation.
        activation: the CNN's activation.
        dropout: dropout in the CNN's head.

    Shapes:
        - input ``x``: ``[N, in_channels, *S]`` with ``len(S) == dims``.
        - output: ``[N, out_features]``.

    Reference:
        M. Jaderberg, K. Simonyan, A. Zisserman and K. Kavukcuoglu, "Spatial
        transformer networks", NeurIPS 2015, arXiv:1506.02025.
    """

    inputs = ("x",)

    @checked("stn_cnn")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        dims: Annotated[Literal[2, 3], Field(description="2 (images) or 3 (volumes)")] = 2,
        localisation_channels: Stages = (8, 16),
        localisation_hidden: Size = 32,
        channels: Stages = (16, 32, 64),
        pool: Annotated[Pool, Field(description="one of max, avg, stochastic")] = "max",
        hidden: Widths = (64,),
        norm: Annotated[Norm, Field(description="one of none, batch, group, layer")] = "batch",
        activation: Activation = "relu",
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_features, self.dims = in_channels, out_features, dims
        self.transformer = SpatialTransformer(in_channels, dims, localisation_channels, localisation_hidden)
        self.cnn = CNN(in_channels, out_features, dims, channels=channels, pool=pool, hidden=hidden, norm=norm,
                       activation=activation, dropout=dropout)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> SpatialTransformerCNN:
        """An STN-CNN for inputs ``x`` of per-sample shape ``(C, H, W)`` or ``(C, D, H, W)``."""
        shape = tuple(shapes["x"])
        spatial_dims("stn_cnn", shape, params, allowed=(2, 3))
        return cls(in_channels=shape[0], out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for inputs ``[N, in_channels, *S]``."""
        return self.cnn(self.transformer(x))  # [N, C, *S] -> [N, out_features]


__all__ = ["SpatialTransformer", "SpatialTransformerCNN"]
