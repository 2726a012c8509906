"""Residual networks (He, Zhang, Ren & Sun 2015), with zero-init and Fixup initialisation.

A residual block learns a correction ``F(x)`` to its input and outputs
``relu(x + F(x))``: the identity path lets signals and gradients pass
through any depth, so a deep residual network is never worse to train than
a shallow one (the degradation problem of plain deep networks). ``F`` is
two 3x3 convolutions (*basic* block) or 1x1 -> 3x3 -> 1x1 (*bottleneck*,
which works at a quarter of the width and expands by 4). When a block
changes the resolution or the width, the shortcut is a 1x1 projection
convolution.

Two recipes make the network start as (nearly) the identity, which speeds up
and steadies early training:

- ``zero_init_residual`` (Goyal et al. 2017): the last normalisation of each
  branch starts with scale gamma = 0, so every block starts as
  ``relu(shortcut(x))``.
- ``fixup`` (Zhang, Dauphin & Ma 2019): no normalisation at all. Each branch
  gets scalar biases before its convolutions and activations and a scalar
  multiplier at its end; its last convolution (and the classifier) starts at
  zero, and its other convolutions start He-initialised and scaled by
  ``L^(-1/(2m-2))``, with L residual branches of m layers each, which keeps
  the output variance bounded as the network gets deeper.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.conv import Dims, GlobalPool, conv_layer, norm_layer, spatial_dims
from quanta.models.hints import Depths, Size, Stages
from quanta.registry import checked

Block = Literal["basic", "bottleneck"]
BLOCKS: tuple[str, ...] = get_args(Block)
EXPANSION = {"basic": 1, "bottleneck": 4}  # output channels of a block / its width


class ResidualBlock(nn.Module):
    """``act(shortcut(x) + F(x))`` with F a basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1) branch.

    The stride sits on the 3x3 convolution (of the bottleneck: "ResNet
    v1.5"). With ``fixup`` there is no normalisation; scalar biases precede
    every convolution and activation of the branch, and a scalar multiplier
    its end (Zhang et al. 2019, Fig. 1).

    Args:
        in_channels: channels in.
        width: channels inside the branch; the block outputs
            ``width * EXPANSION[kind]``.
        kind: ``"basic"`` or ``"bottleneck"``.
        stride: stride of the 3x3 convolution (2 halves the resolution).
        dims: spatial dimensions.
        norm: normalisation after each convolution (ignored with ``fixup``).
        activation: the nonlinearity.
        fixup: the normalisation-free Fixup form.

    Shapes:
        - input: ``[N, in_channels, *S]``; output: ``[N, width * expansion, *S / stride]``.
    """

    def __init__(self, in_channels: int, width: int, kind: str = "basic", stride: int = 1, dims: int = 2,
                 norm: str = "batch", activation: str = "relu", fixup: bool = False) -> None:
        super().__init__()
        conv = conv_layer(dims)
        out_channels = width * EXPANSION[kind]
        if kind == "basic":  # (in, out, kernel, stride) per convolution of the branch
            plan = [(in_channels, width, 3, stride), (width, out_channels, 3, 1)]
        else:
            plan = [(in_channels, width, 1, 1), (width, width, 3, stride), (width, out_channels, 1, 1)]
        self.fixup = fixup
        norm = "none" if fixup else norm
        self.convs = nn.ModuleList(conv(c_in, c_out, k, stride=s, padding=k // 2, bias=False)
                                   for c_in, c_out, k, s in plan)
        self.norms = nn.ModuleList(norm_layer(norm, dims, c_out) for _, c_out, _, _ in plan)
        self.act = make_activation(activation)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:  # a 1x1 projection matches the shape
            self.shortcut = nn.Sequential(conv(in_channels, out_channels, 1, stride=stride, bias=False),
                                          norm_layer(norm, dims, out_channels))
        if fixup:
            self.bias_in = nn.Parameter(torch.zeros(len(plan)))  # before each convolution
            self.bias_out = nn.Parameter(torch.zeros(len(plan)))  # before each activation / at the end
            self.scale = nn.Parameter(torch.ones(1))

    @property
    def last_norm(self) -> nn.Module:
        """The normalisation closing the branch (zero-init sets its scale to 0)."""
        return self.norms[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, *S] -> [N, C_out, *S']``."""
        last = len(self.convs) - 1
        if not self.fixup:
            out = x
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
                out = norm(conv(out))  # [N, C_i, *S_i]
                out = self.act(out) if i < last else out
            return self.act(out + self.shortcut(x))
        out = x
        for i, conv in enumerate(self.convs):
            out = conv(out + self.bias_in[i])  # [N, C_i, *S_i]
            out = self.act(out + self.bias_out[i]) if i < last else out * self.scale + self.bias_out[i]
        # an identity shortcut carries x itself; a projection sees the biased input, as the branch does
        identity = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(x + self.bias_in[0])
        return self.act(out + identity)


class ResNet(nn.Module):
    """Residual network: basic or bottleneck blocks with identity or 1x1 projection shortcuts

    A stem (3x3 convolution, norm, activation: no early downsampling, the
    images of physics are small), then stages of residual blocks: stage
    ``s`` has ``depths[s]`` blocks of width ``widths[s]``, the first block
    of every stage but the first halving the resolution (stride 2, with a
    projection shortcut). Global average pooling and a linear layer give the
    raw outputs. ``widths=(64, 128, 256, 512)``, ``depths=(2, 2, 2, 2)`` and
    a 7x7 stride-2 stem would be ResNet-18; the default is a narrow
    six-block network for 8-40 pixel images.

    Args:
        in_channels: input channels.
        out_features: outputs per sample.
        dims: spatial dimensions of the input (``for_data`` reads it).
        block: ``"basic"`` or ``"bottleneck"`` (output ``4 * width`` channels).
        widths: the branch width of each stage.
        depths: residual blocks in each stage: one number for every stage, or
            one entry per stage.
        stem_channels: channels of the stem convolution.
        norm: ``"batch"``, ``"group"`` or ``"layer"`` (unused with ``fixup``).
        activation: one of ``quanta.models.activations.ACTIVATIONS``.
        zero_init_residual: start the last norm scale of each branch at 0.
        fixup: Fixup initialisation without normalisation (see the module).

    Shapes:
        - input ``x``: ``[N, in_channels, *S]`` with ``len(S) == dims``.
        - output: ``[N, out_features]``.

    References:
        K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image
        recognition", CVPR 2016, arXiv:1512.03385.
        P. Goyal et al., "Accurate, large minibatch SGD: training ImageNet in
        1 hour", arXiv:1706.02677 (2017) (zero-init of the last BN).
        H. Zhang, Y. N. Dauphin and T. Ma, "Fixup initialization: residual
        learning without normalization", ICLR 2019, arXiv:1901.09321.
    """

    inputs = ("x",)

    @checked("resnet")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        dims: Annotated[Dims, Field(description="1, 2 or 3")] = 2,
        block: Annotated[Block, Field(description="one of basic, bottleneck")] = "basic",
        widths: Stages = (16, 32, 64),
        depths: Depths = 2,
        stem_channels: Size = 16,
        norm: Annotated[Literal["batch", "group", "layer"], Field(description="one of batch, group, layer")] = "batch",
        activation: Activation = "relu",
        zero_init_residual: bool = False,
        fixup: bool = False,
    ) -> None:
        super().__init__()
        depths = (depths,) * len(widths) if isinstance(depths, int) else depths
        if len(depths) != len(widths):
            raise UserError(f"resnet: depths needs one entry per stage ({len(widths)} widths), received {depths}")
        if fixup and zero_init_residual:
            raise UserError("resnet: fixup has no normalisation to zero-initialise; "
                            "choose fixup or zero_init_residual, not both")
        self.in_channels, self.out_features, self.dims, self.block = in_channels, out_features, dims, block
        self.widths, self.depths, self.stem_channels = widths, depths, stem_channels
        self.norm, self.activation = norm, activation
        self.zero_init_residual, self.fixup = zero_init_residual, fixup

        conv = conv_layer(dims)
        self.stem = nn.Sequential(conv(in_channels, stem_channels, 3, padding=1, bias=False),
                                  norm_layer("none" if fixup else norm, dims, stem_channels))
        self.stem_act = make_activation(activation)
        blocks: list[nn.Module] = []
        width_in = stem_channels
        for s, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            for i in range(depth):
                stride = 2 if s > 0 and i == 0 else 1
                blocks.append(ResidualBlock(width_in, width, block, stride, dims, norm, activation, fixup))
                width_in = width * EXPANSION[block]
        self.blocks = nn.Sequential(*blocks)
        self.global_pool = GlobalPool("avg")
        self.fc = nn.Linear(width_in, out_features)
        if fixup:  # scalar biases of the stem output and the classifier input
            self.stem_bias = nn.Parameter(torch.zeros(1))
            self.fc_bias = nn.Parameter(torch.zeros(1))
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                # He normal with fan_out, as torchvision and the Fixup paper do
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        blocks = [b for b in self.blocks if isinstance(b, ResidualBlock)]
        if self.fixup:
            branch_layers = len(blocks[0].convs)  # m = 2 (basic) or 3 (bottleneck)
            factor = len(blocks) ** (-1.0 / (2 * branch_layers - 2))  # L^(-1/(2m-2))
            for b in blocks:
                with torch.no_grad():
                    for conv in b.convs[:-1]:
                        conv.weight.mul_(factor)
                nn.init.zeros_(b.convs[-1].weight)
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)
        elif self.zero_init_residual:
            for b in blocks:
                nn.init.zeros_(b.last_norm.weight)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> ResNet:
        """A ResNet for inputs ``x`` of per-sample shape ``(C, *S)``; ``dims = len(S)``."""
        shape = tuple(shapes["x"])
        spatial_dims("resnet", shape, params)
        return cls(in_channels=shape[0], out_features=out_features, **params)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``[N, widths[-1] * expansion]`` for inputs ``[N, C, *S]``."""
        x = self.stem(x)  # [N, stem_channels, *S]
        x = self.stem_act(x + self.stem_bias if self.fixup else x)
        return self.global_pool(self.blocks(x))  # [N, C', *S'] -> [N, C']

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for inputs ``[N, in_channels, *S]``."""
        features = self.forward_features(x)  # [N, C']
        return self.fc(features + self.fc_bias if self.fixup else features)  # [N, out_features]


__all__ = ["BLOCKS", "EXPANSION", "ResNet", "ResidualBlock"]
