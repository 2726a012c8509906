"""U-Net: a convolutional encoder-decoder with skip connections, for image-to-image tasks.

The encoder halves the resolution ``depth`` times (max pooling) while the
number of channels grows; the decoder doubles it back (transposed
convolutions or interpolation) and, at every scale, concatenates the encoder
features of the same resolution (the *skip connections*), so that the output
keeps the fine detail the bottleneck has lost while the deep layers supply
context from a wide receptive field. Every output pixel is a prediction:
class logits per pixel (segmentation), or the pixel values of a clean or
sharper image (denoising, super-resolution; Ronneberger et al. introduced it
for cell segmentation from few annotated images). One class serves 1D
signals, 2D images and 3D volumes.

Super-resolution (``upscale = r > 1``): the output is ``r`` times larger than
the input along every spatial axis, in one of two ways:

- ``"interpolate"``: the classic approach (SRCNN, VDSR): the input is first
  upsampled by interpolation (bicubic in 2D, linear in 1D, trilinear in 3D)
  and the U-Net then restores the detail at the high resolution (costs r^d
  more compute).
- ``"pixel_shuffle"``: the U-Net runs at the input's low resolution; a last
  convolution emits ``r^d`` times more channels, which a *pixel shuffle*
  rearranges into an ``r``-times finer grid (the efficient sub-pixel
  convolution of Shi et al. 2016).

Several scales: :meth:`UNet.multiscale` returns the output together with
coarser predictions made by 1x1 heads on the decoder's lower levels (deep
supervision), which a task may fit to downsampled targets
(``quanta.tasks.reconstruction`` with ``multiscale="model"``).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.conv import Dims, spatial_dims
from quanta.models.hints import NonNegative, Probability, Size
from quanta.models.init import Init, initialise
from quanta.registry import checked

Norm = Literal["batch", "group", "instance", "none"]
NORMS: tuple[str, ...] = get_args(Norm)
Upsampling = Literal["transpose", "interpolate"]
UPSAMPLING: tuple[str, ...] = get_args(Upsampling)
UpscaleMode = Literal["interpolate", "pixel_shuffle"]
UPSCALE_MODES: tuple[str, ...] = get_args(UpscaleMode)

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_TRANSPOSE = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
_DROPOUT = {1: nn.Dropout1d, 2: nn.Dropout2d, 3: nn.Dropout3d}
_ADAPTIVE_POOL = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
#: the smooth interpolation of each dimensionality (input upsampling for super-resolution)
SMOOTH_MODE = {1: "linear", 2: "bicubic", 3: "trilinear"}
#: the interpolation of the decoder's upsampling path (bicubic overshoots; bilinear is the U-Net habit)
_DECODER_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _norm(kind: str, channels: int, dims: int) -> nn.Module:
    if kind == "batch":
        return _BATCH_NORM[dims](channels)
    if kind == "instance":
        return _INSTANCE_NORM[dims](channels, affine=True)
    if kind == "group":  # 8 channels per group (or one group for narrow layers)
        return nn.GroupNorm(max(1, channels // 8), channels)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """``convs`` times ``conv(kernel, same padding) -> norm -> activation``: one U-Net stage.

    Shapes: ``[N, in_channels, *S] -> [N, out_channels, *S]`` (S: 1, 2 or 3 spatial sizes).
    """

    def __init__(self, in_channels: int, out_channels: int, dims: int, convs: int = 2, kernel_size: int = 3,
                 norm: str = "batch", activation: str = "relu") -> None:
        layers: list[nn.Module] = []
        for i in range(convs):
            # a norm right after the conv makes the conv's bias redundant
            layers.append(_CONV[dims](in_channels if i == 0 else out_channels, out_channels, kernel_size,
                                      padding=kernel_size // 2, bias=norm == "none"))
            layers.append(_norm(norm, out_channels, dims))
            layers.append(make_activation(activation))
        super().__init__(*layers)


class PixelShuffle(nn.Module):
    """Sub-pixel rearrangement in 1, 2 or 3 dimensions (Shi et al. 2016).

    Shapes: ``[N, C * r^d, *S] -> [N, C, *(r * S)]``; channel ``c * r^d + k``
    becomes sub-position ``k`` (row-major over the d offsets) of output pixel
    block ``c`` — the layout of ``torch.nn.PixelShuffle`` in 2D.
    """

    def __init__(self, factor: int, dims: int) -> None:
        super().__init__()
        self.factor = factor
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r, d = self.factor, self.dims
        n, channels, *size = x.shape
        c = channels // r**d
        x = x.reshape(n, c, *([r] * d), *size)  # [N, C, r, .., r, S1, .., Sd]
        # interleave: [N, C, S1, r, S2, r, ...]
        order = [0, 1] + [axis for i in range(d) for axis in (2 + d + i, 2 + i)]
        x = x.permute(*order)
        return x.reshape(n, c, *(s * r for s in size))  # [N, C, r S1, .., r Sd]


class UNet(nn.Module):
    """U-Net: encoder-decoder with skip connections for image-to-image tasks

    Encoder level ``k`` (k = 0 ... depth) is a :class:`ConvBlock` with
    ``width * growth**k`` channels at ``1 / 2**k`` of the working resolution,
    levels joined by 2x max pooling; level ``depth`` is the bottleneck. The
    decoder goes back up level by level: upsample 2x (``upsampling``:
    a learned 2x2 transposed convolution, or bilinear/linear/trilinear
    interpolation followed by a 1x1 convolution), concatenate the encoder's
    features of that level, and apply a ConvBlock. A 1x1 convolution (the
    head) maps the last features to ``out_features`` channels, returned raw:
    pixel values for regression, per-pixel class logits for segmentation.

    Sizes need not be powers of two: pooling floors odd sizes and the
    decoder pads its upsampled features (zeros, at the far end) to the size
    of the skip connection, so the output has the input's size (times
    ``upscale``); every spatial size must be at least ``2**depth``.

    Args:
        in_channels: channels of the input images (axis 1 of ``x``).
        out_features: output channels: image channels for reconstruction,
            K for K-class segmentation.
        dimensions: number of spatial axes, 1 (signals ``[N, C, L]``),
            2 (images ``[N, C, H, W]``) or 3 (volumes ``[N, C, D, H, W]``);
            ``for_data`` sets it from the data.
        depth: number of 2x downsamplings (the original U-Net has 4).
        width: channels of the first level (the original has 64).
        growth: factor by which the channels grow per level (2 in the original).
        convs: convolutions per level (2 in the original).
        kernel_size: odd kernel size of the convolutions ("same" padding).
        norm: normalisation after each convolution: ``"batch"``,
            ``"group"`` (GroupNorm with 8 channels per group), ``"instance"``
            or ``"none"`` (the original had none; batch norm trains faster).
        activation: nonlinearity, one of ``quanta.models.activations.ACTIVATIONS``.
        dropout: channel dropout probability before the bottleneck block
            (the original used dropout at the end of the contracting path).
        upsampling: ``"transpose"`` (learned 2x2 transposed convolution)
            or ``"interpolate"`` (fixed interpolation + 1x1 conv; no
            checkerboard artefacts).
        upscale: output size / input size per spatial axis (1: same size;
            r > 1: super-resolution by a factor r).
        upscale_mode: how to upscale (see the module docstring):
            ``"interpolate"`` (input first upsampled smoothly, then the
            U-Net works at the high resolution) or ``"pixel_shuffle"``
            (the U-Net works at the low resolution, then sub-pixel
            convolution).
        residual: add the input, smoothly interpolated to the output size,
            to the output (global residual learning, as in VDSR): the network
            learns only the correction. The output heads start at zero, so
            the untrained network returns the interpolated input. Needs
            ``in_channels == out_features`` and inputs in the targets' units
            (``quanta.fit(..., standardize=False)``).
        init: weight initialisation, ``"default"``, ``"xavier"`` or ``"he"``
            (:mod:`quanta.models.init`).

    Shapes:
        - input ``x``: ``[N, in_channels, *S]`` with ``len(S) == dimensions``.
        - output: ``[N, out_features, *(upscale * S)]``.
        - :meth:`multiscale`: a list of ``depth + 1`` tensors, the output
          and then ``[N, out_features, *(S' / 2**k)]`` for k = 1 ... depth
          (``S'``: the working resolution, ``upscale * S`` with
          ``"interpolate"``, ``S`` with ``"pixel_shuffle"``; sizes floored).

    References:
        O. Ronneberger, P. Fischer and T. Brox, "U-Net: Convolutional
        Networks for Biomedical Image Segmentation", MICCAI 2015,
        arXiv:1505.04597.
        W. Shi et al., "Real-Time Single Image and Video Super-Resolution
        Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR
        2016, arXiv:1609.05158 (pixel shuffle).
        C. Dong, C. C. Loy, K. He and X. Tang, "Image Super-Resolution
        Using Deep Convolutional Networks", TPAMI 2016, arXiv:1501.00092
        (interpolate, then refine).
        J. Kim, J. K. Lee and K. M. Lee, "Accurate Image Super-Resolution
        Using Very Deep Convolutional Networks", CVPR 2016,
        arXiv:1511.04587 (global residual learning).
    """

    inputs = ("x",)  # the batch arrays forward() takes, in order

    @checked("unet")
    def __init__(
        self,
        in_channels: Size,
        out_features: Size = 1,
        dimensions: Annotated[Dims, Field(description="1, 2 or 3")] = 2,
        depth: NonNegative = 3,
        width: Size = 16,
        growth: Size = 2,
        convs: Size = 2,
        kernel_size: Size = 3,
        norm: Annotated[Norm, Field(description="one of batch, group, instance, none")] = "batch",
        activation: Activation = "relu",
        dropout: Probability = 0.0,
        upsampling: Annotated[Upsampling, Field(description="one of transpose, interpolate")] = "transpose",
        upscale: Size = 1,
        upscale_mode: Annotated[UpscaleMode, Field(description="one of interpolate, pixel_shuffle")] = "interpolate",
        residual: bool = False,
        init: Init = "default",
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise UserError(f"unet: kernel_size must be odd (same padding), received {kernel_size}")
        if residual and in_channels != out_features:
            raise UserError(f"unet: residual=True adds the input to the output, so in_channels "
                            f"({in_channels}) must equal out_features ({out_features})")

        self.in_channels = in_channels
        self.out_features = out_features
        self.dimensions = dimensions
        self.depth = depth
        self.width = width
        self.growth = growth
        self.convs = convs
        self.kernel_size = kernel_size
        self.norm = norm
        self.activation = activation
        self.dropout = dropout
        self.upsampling = upsampling
        self.upscale = upscale
        self.upscale_mode = upscale_mode
        self.residual = residual
        self.init = init

        d = dimensions
        widths = [width * growth**k for k in range(depth + 1)]
        block = dict(dims=d, convs=convs, kernel_size=kernel_size, norm=norm, activation=activation)
        self.encoder = nn.ModuleList(
            [ConvBlock(in_channels if k == 0 else widths[k - 1], widths[k], **block) for k in range(depth + 1)])
        self.pool = _POOL[d](2)
        self.bottleneck_dropout = _DROPOUT[d](dropout) if dropout > 0 else nn.Identity()
        # decoder level k (k = depth-1 ... 0) takes level k+1's features up to level k
        self.up = nn.ModuleList([self._upsampler(widths[k + 1], widths[k]) for k in range(depth)])
        self.decoder = nn.ModuleList([ConvBlock(2 * widths[k], widths[k], **block) for k in range(depth)])
        if upscale > 1 and upscale_mode == "pixel_shuffle":
            self.shuffle = nn.Sequential(
                _CONV[d](widths[0], widths[0] * upscale**d, kernel_size, padding=kernel_size // 2),
                PixelShuffle(upscale, d),
                make_activation(activation),
            )
        else:
            self.shuffle = nn.Identity()
        self.head = _CONV[d](widths[0], out_features, 1)
        # coarse predictions for deep supervision (multiscale); unused by forward()
        self.side_heads = nn.ModuleList([_CONV[d](widths[k], out_features, 1) for k in range(1, depth + 1)])
        if init != "default":
            initialise(self, init, activation)
        if residual:  # start as the identity (the interpolated input), learn the correction
            for head in (self.head, *self.side_heads):
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def _upsampler(self, in_channels: int, out_channels: int) -> nn.Module:
        d = self.dimensions
        if self.upsampling == "transpose":
            return _TRANSPOSE[d](in_channels, out_channels, kernel_size=2, stride=2)
        return nn.Sequential(nn.Upsample(scale_factor=2, mode=_DECODER_MODE[d], align_corners=False),
                             _CONV[d](in_channels, out_channels, 1))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> UNet:
        """A U-Net for inputs ``x`` of per-sample shape ``(C, *S)`` (channels first, 1-3 spatial axes)."""
        shape = tuple(shapes["x"])
        spatial_dims("unet", shape, params, key="dimensions")
        depth = params.get("depth", 3)
        upscale = params.get("upscale", 1)
        working = upscale if params.get("upscale_mode", "interpolate") == "interpolate" else 1
        smallest = min(shape[1:]) * working
        if isinstance(depth, int) and smallest < 2**depth:
            raise UserError(f"unet: depth={depth} halves the size {2**depth} times, but the smallest "
                            f"spatial size is {smallest}; use depth <= {max(smallest, 1).bit_length() - 1}")
        return cls(in_channels=shape[0], out_features=out_features, **params)

    # -- the network ---------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != self.dimensions + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expected input [N, {self.in_channels}, ...] with {self.dimensions} "
                             f"spatial axes, received {tuple(x.shape)}")

    def _smooth_upscale(self, x: torch.Tensor) -> torch.Tensor:
        """The input interpolated to the output size: ``[N, C, *S] -> [N, C, *(upscale * S)]``."""
        if self.upscale == 1:
            return x
        return F.interpolate(x, scale_factor=self.upscale, mode=SMOOTH_MODE[self.dimensions], align_corners=False)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Decoder features at every scale, finest first.

        Shapes: ``x [N, in_channels, *S]`` -> a list of ``depth + 1`` tensors
        ``[N, width * growth**k, *(S' / 2**k)]`` for k = 0 ... depth, where
        ``S'`` is the working resolution; the last is the bottleneck.
        """
        self._check(x)
        h = self._smooth_upscale(x) if self.upscale_mode == "interpolate" else x  # [N, C, *S']
        skips = []
        for k, block in enumerate(self.encoder):
            if k > 0:
                h = self.pool(h)  # [N, w_{k-1}, *S_{k-1}] -> [N, w_{k-1}, *(S_{k-1} // 2)]
            if k == self.depth:
                h = self.bottleneck_dropout(h)
            h = block(h)  # [N, w_k, *S_k]
            skips.append(h)
        features = [h]
        for k in reversed(range(self.depth)):
            up = _fit(self.up[k](h), skips[k])  # [N, w_{k+1}, *S_{k+1}] -> [N, w_k, *S_k]
            h = self.decoder[k](torch.cat([skips[k], up], dim=1))  # [N, 2 w_k, *S_k] -> [N, w_k, *S_k]
            features.append(h)
        return features[::-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The full-resolution output ``[N, out_features, *(upscale * S)]``."""
        output = self.head(self.shuffle(self.forward_features(x)[0]))
        return output + self._smooth_upscale(x) if self.residual else output

    def multiscale(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output and coarser predictions, finest first (for multi-scale losses).

        Element 0 is :meth:`forward`'s output; element k (k = 1 ... depth) is a
        1x1-convolution head on the decoder's level-k features, a prediction
        of the target average-pooled by ``2**k`` relative to the working
        resolution (with ``residual``, plus the input pooled to that size).
        The coarse heads train only when a loss uses them.

        Shapes: ``x [N, in_channels, *S]`` -> ``[[N, out_features, *(upscale * S)],
        [N, out_features, *(S' / 2)], ..., [N, out_features, *(S' / 2**depth)]]``.
        """
        features = self.forward_features(x)
        outputs = [self.head(self.shuffle(features[0])),
                   *(head(f) for head, f in zip(self.side_heads, features[1:], strict=True))]
        if self.residual:
            smooth = self._smooth_upscale(x)
            outputs = [o + _ADAPTIVE_POOL[self.dimensions](smooth, o.shape[2:]) for o in outputs]
        return outputs


def _fit(up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """Zero-pad upsampled features at the far end of each axis to the skip connection's size.

    Pooling floors odd sizes, so upsampling gives back at most one pixel too
    few per axis. Shapes: ``up [N, C, *U]``, ``skip [N, C', *S]`` (U <= S) -> ``[N, C, *S]``.
    """
    missing = [s - u for s, u in zip(skip.shape[2:], up.shape[2:], strict=True)]
    if not any(missing):
        return up
    pad: list[int] = []
    for m in reversed(missing):  # F.pad takes the last axis first
        pad += [0, m]
    return F.pad(up, pad)


__all__ = ["NORMS", "UPSAMPLING", "UPSCALE_MODES", "ConvBlock", "PixelShuffle", "UNet"]
