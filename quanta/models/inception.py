"""Inception networks (Szegedy et al. 2014, "GoogLeNet"): several kernel sizes side by side.

Which kernel size is right for a layer - 1x1, 3x3 or 5x5? An Inception
module does not choose: four branches look at the same input at once (a 1x1
convolution; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pooling then 1x1) and
their outputs are concatenated along the channels. The 1x1 convolutions
before the expensive branches reduce the channels first, which keeps the
cost of the 3x3 and 5x5 convolutions small ("network in network"
bottlenecks). Inception-v2/v3 replaced the 5x5 convolution by two 3x3
convolutions, which see the same 5x5 window with 18 instead of 25 weights
per channel pair; ``factorize_5x5`` does that.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.conv import ConvBlock, GlobalPool
from quanta.models.hints import Probability, Size
from quanta.registry import checked

ModuleWidths = Annotated[tuple[Annotated[int, Field(ge=8)], ...],
                         Field(min_length=1, description="a list of one or more widths of at least 8 (four branches)")]


class InceptionModule(nn.Module):
    """Four branches, 1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1, concatenated along the channels.

    Every convolution is a :class:`~quanta.models.conv.ConvBlock` (batch
    norm and ReLU, "same" padding), so the branches keep the resolution.

    Args:
        in_channels: channels in.
        c1: channels of the 1x1 branch.
        c3_reduce, c3: the 3x3 branch's 1x1 reduction and its output.
        c5_reduce, c5: the 5x5 branch's 1x1 reduction and its output.
        pool_proj: channels of the 1x1 projection after 3x3 max pooling.
        factorize_5x5: two 3x3 convolutions instead of one 5x5.

    Shapes:
        - input: ``[N, in_channels, H, W]``;
          output: ``[N, c1 + c3 + c5 + pool_proj, H, W]``.
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int, factorize_5x5: bool = False) -> None:
        super().__init__()
        self.out_channels = c1 + c3 + c5 + pool_proj
        self.branch1 = ConvBlock(in_channels, c1, kernel_size=1)
        self.branch3 = nn.Sequential(ConvBlock(in_channels, c3_reduce, kernel_size=1),
                                     ConvBlock(c3_reduce, c3, kernel_size=3))
        wide = ([ConvBlock(c5_reduce, c5, kernel_size=3), ConvBlock(c5, c5, kernel_size=3)] if factorize_5x5
                else [ConvBlock(c5_reduce, c5, kernel_size=5)])
        self.branch5 = nn.Sequential(ConvBlock(in_channels, c5_reduce, kernel_size=1), *wide)
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         ConvBlock(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, H, W] -> [N, c1 + c3 + c5 + pool_proj, H, W]``."""
        branches = (self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x))
        return torch.cat(branches, dim=1)  # [N, out_channels, H, W]


def module_plan(width: int) -> dict[str, int]:
    """Branch channels for a module of ``width`` output channels, in GoogLeNet's inception (3a) proportions.

    (3a) has 256 outputs: 64 (1x1), 128 (3x3, reduced from 96), 32 (5x5,
    reduced from 16), 32 (pool projection), i.e. 1/4, 1/2, 1/8, 1/8 of the
    width, with reductions to 3/4 and 1/2 of their branch.
    """
    c1, c3, c5 = width // 4, width // 2, width // 8
    pool_proj = width - c1 - c3 - c5
    return {"c1": c1, "c3_reduce": max(1, 3 * c3 // 4), "c3": c3, "c5_reduce": max(1, c5 // 2), "c5": c5,
            "pool_proj": pool_proj}


class InceptionNet(nn.Module):
    """Inception-style network: parallel 1x1, 3x3, 5x5 and pooling branches, concatenated

    A stem (a 3x3 convolution block with ``stem_channels``), then stages of
    ``modules_per_stage`` :class:`InceptionModule` s with ``widths[s]``
    output channels each (branches split as in GoogLeNet, see
    :func:`module_plan`), 3x3 max pooling with stride 2 between stages,
    global average pooling, dropout and a linear layer giving raw outputs.

    Args:
        in_channels: input channels.
        out_features: outputs per sample.
        stem_channels: channels of the stem convolution.
        widths: output channels of the modules of each stage (each >= 8).
        modules_per_stage: Inception modules per stage.
        factorize_5x5: two 3x3 convolutions in place of each 5x5.
        dropout: dropout before the linear layer (GoogLeNet used 0.4).

    Shapes:
        - input ``x``: ``[N, in_channels, H, W]``.
        - output: ``[N, out_features]``.

    Reference:
        C. Szegedy et al., "Going deeper with convolutions", CVPR 2015,
        arXiv:1409.4842; C. Szegedy et al., "Rethinking the Inception
        architecture for computer vision", CVPR 2016, arXiv:1512.00567.
    """

    inputs = ("x",)

    @checked("inception")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        stem_channels: Size = 16,
        widths: ModuleWidths = (32, 64),
        modules_per_stage: Size = 1,
        factorize_5x5: bool = False,
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_features, self.stem_channels = in_channels, out_features, stem_channels
        self.widths, self.modules_per_stage = widths, modules_per_stage
        self.factorize_5x5, self.dropout = factorize_5x5, dropout

        self.stem = ConvBlock(in_channels, stem_channels, kernel_size=3)
        layers: list[nn.Module] = []
        width_in = stem_channels
        for s, width in enumerate(widths):
            if s > 0:  # overlapping 3x3/2 max pooling between stages, as in GoogLeNet: n -> ceil(n / 2)
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            for _ in range(modules_per_stage):
                layers.append(InceptionModule(width_in, **module_plan(width), factorize_5x5=factorize_5x5))
                width_in = width
        self.stages = nn.Sequential(*layers)
        self.global_pool = GlobalPool("avg")
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width_in, out_features))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> InceptionNet:
        """An Inception network for images ``x`` of per-sample shape ``(C, H, W)``."""
        shape = tuple(shapes["x"])
        if len(shape) != 3:
            raise UserError(f"inception: inputs x must be images [N, C, H, W], received per-sample shape {shape}")
        return cls(in_channels=shape[0], out_features=out_features, **params)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[N, widths[-1]]`` for images ``[N, C, H, W]``."""
        return self.global_pool(self.stages(self.stem(x)))  # [N, C', H', W'] -> [N, C']

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for images ``[N, in_channels, H, W]``."""
        return self.head(self.forward_features(x))  # [N, out_features]


__all__ = ["InceptionModule", "InceptionNet", "module_plan"]
