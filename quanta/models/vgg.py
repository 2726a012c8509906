"""VGG (Simonyan & Zisserman 2014): depth from stacks of small 3x3 convolutions.

VGG's lesson is that two stacked 3x3 convolutions see a 5x5 window and three
see 7x7, with fewer weights (``2 * 9 C^2`` or ``3 * 9 C^2`` against
``25 C^2`` or ``49 C^2``) and a nonlinearity between each; so a network
built only of 3x3 convolutions, in stages separated by 2x2 max pooling that
halve the resolution while the width doubles, can be made deep and uniform.
The original (VGG-16: stages of 64-512 channels, 2-3 convolutions each, three
4096-unit dense layers) is sized for 224x224 ImageNet photos; the default
here is three narrow stages for the 8-40 pixel images of physics (jet and
calorimeter images, digits), followed by global average pooling in place of
the flatten, so that any input size works.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.conv import ConvBlock, GlobalPool, pooling
from quanta.models.hints import Depths, Probability, Size, Stages, Widths
from quanta.registry import checked


class VGG(nn.Module):
    """VGG-style network: stacks of 3x3 convolutions separated by max pooling

    Stage ``s`` is ``depths[s]`` 3x3 convolutions with ``widths[s]`` channels
    ("same" padding, then ``norm`` and ``activation``), followed by 2x2 max
    pooling (halving the resolution; a map of one pixel stays one pixel).
    After the last stage, global average pooling and a dense head
    ``hidden -> out_features`` with dropout give the raw outputs.

    Args:
        in_channels: input channels.
        out_features: outputs per sample.
        widths: channels of each stage (the paper doubles them: 64 ... 512).
        depths: 3x3 convolutions in each stage: one number for every stage,
            or one entry per stage.
        norm: ``"batch"`` (batch-normalised VGG, which trains without the
            paper's staged initialisation) or ``"none"`` (the original).
        activation: one of ``quanta.models.activations.ACTIVATIONS``.
        hidden: widths of the dense head's hidden layers.
        dropout: dropout before each dense layer (the paper used 0.5).

    Shapes:
        - input ``x``: ``[N, in_channels, H, W]``.
        - output: ``[N, out_features]``.

    Reference:
        K. Simonyan and A. Zisserman, "Very deep convolutional networks for
        large-scale image recognition", ICLR 2015, arXiv:1409.1556.
    """

    inputs = ("x",)

    @checked("vgg")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        widths: Stages = (32, 64, 128),
        depths: Depths = 2,
        norm: Annotated[Literal["batch", "none"], Field(description="'batch' or 'none'")] = "batch",
        activation: Activation = "relu",
        hidden: Widths = (128,),
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        depths = (depths,) * len(widths) if isinstance(depths, int) else depths
        if len(depths) != len(widths):
            raise UserError(f"vgg: depths needs one entry per stage ({len(widths)} widths), received {depths}")
        self.in_channels, self.out_features, self.widths, self.depths = in_channels, out_features, widths, depths
        self.norm, self.activation, self.hidden, self.dropout = norm, activation, hidden, dropout

        stages: list[nn.Module] = []
        width_in = in_channels
        for width, depth in zip(widths, depths, strict=True):
            convs = [ConvBlock(width_in if i == 0 else width, width, 2, 3, 1, "same", norm=norm,
                               activation=activation) for i in range(depth)]
            stages.append(nn.Sequential(*convs, pooling("max", 2, 2, ceil_mode=True)))
            width_in = width
        self.stages = nn.Sequential(*stages)
        self.global_pool = GlobalPool("avg")
        head: list[nn.Module] = []
        for width in hidden:
            head += [nn.Dropout(dropout)] if dropout else []
            head += [nn.Linear(width_in, width), make_activation(activation)]
            width_in = width
        head += [nn.Dropout(dropout)] if dropout else []
        head.append(nn.Linear(width_in, out_features))
        self.head = nn.Sequential(*head)
        for module in self.modules():  # He initialisation for the rectifiers (the paper's deep nets need it)
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> VGG:
        """A VGG for images ``x`` of per-sample shape ``(C, H, W)``."""
        shape = tuple(shapes["x"])
        if len(shape) != 3:
            raise UserError(f"vgg: inputs x must be images [N, C, H, W], received per-sample shape {shape}")
        return cls(in_channels=shape[0], out_features=out_features, **params)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[N, widths[-1]]`` for images ``[N, C, H, W]``."""
        return self.global_pool(self.stages(x))  # [N, C', H', W'] -> [N, C']

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for images ``[N, in_channels, H, W]``."""
        return self.head(self.forward_features(x))  # [N, out_features]


__all__ = ["VGG"]
