"""Convolution building blocks shared by the convolutional models (1D, 2D and 3D).

A convolution layer slides a small kernel over a signal, an image or a
volume and computes, at every position, the weighted sum of the values under
it. Deep-learning libraries compute the *cross-correlation*
``y[i] = sum_k w[k] x[i + k]`` (the kernel is not flipped, unlike the
mathematical convolution); since the kernel is learned, the two are the same
model. The pieces here:

- :func:`output_size` / :func:`output_shape`: the size of the output of a
  convolution or pooling layer, the lecture formula
  ``floor((n + 2p - d (k - 1) - 1) / s) + 1`` for input size ``n``, kernel
  ``k``, stride ``s``, padding ``p`` and dilation ``d``.
- :class:`ConvBlock`: convolution -> normalisation -> activation, with
  ``"same"`` or integer padding, stride, dilation, and the
  depthwise-separable variant (a per-channel spatial convolution followed by
  a 1x1 convolution mixing the channels, as in MobileNet and Xception).
- :func:`pooling`: max, average or stochastic pooling; :class:`StochasticPool`
  (Zeiler & Fergus 2013); :class:`GlobalPool` (one value per channel).
- :func:`conv_layer`, :func:`norm_layer`: the torch layer for a number of
  spatial dimensions.

References:
    V. Dumoulin and F. Visin, "A guide to convolution arithmetic for deep
    learning", arXiv:1603.07285 (2016).
    M. D. Zeiler and R. Fergus, "Stochastic pooling for regularization of
    deep convolutional neural networks", ICLR 2013, arXiv:1301.3557.
    F. Chollet, "Xception: deep learning with depthwise separable
    convolutions", CVPR 2017, arXiv:1610.02357.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import ACTIVATIONS
from quanta.models.activations import activation as make_activation

Dims = Literal[1, 2, 3]
DIMS: tuple[int, ...] = get_args(Dims)
LAYOUTS = {1: "sequences [N, C, L]", 2: "images [N, C, H, W]", 3: "volumes [N, C, D, H, W]"}


def spatial_dims(model: str, shape: tuple[int, ...], params: dict, allowed: tuple[int, ...] = DIMS,
                 key: str = "dims") -> int:
    """Spatial axes of channels-first inputs ``shape = (C, *S)``, checked and set in ``params[key]``.

    Used by the ``for_data`` of every convolutional model; a layout the model
    cannot take, or a ``dims`` that contradicts the data, is a one-line error.
    """
    dims = len(shape) - 1
    if dims not in allowed:
        layouts = [LAYOUTS[d] for d in allowed]
        listed = ", ".join(layouts[:-1]) + " or " + layouts[-1] if len(layouts) > 1 else layouts[0]
        raise UserError(f"{model}: inputs x must be {listed} (channels first); received per-sample shape {shape}")
    if params.setdefault(key, dims) != dims:
        raise UserError(f"{model}: {key}={params[key]} does not match inputs of per-sample shape {shape}")
    return dims


Norm = Literal["none", "batch", "group", "layer"]
NORMS: tuple[str, ...] = get_args(Norm)
Pool = Literal["max", "avg", "stochastic"]
POOLS: tuple[str, ...] = get_args(Pool)
Padding = Annotated[int, Field(ge=0)] | Literal["same"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVG_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}


# -- sizes ---------------------------------------------------------------------


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Symmetric padding that keeps the size at stride 1: ``d (k - 1) / 2`` (odd effective kernels)."""
    return dilation * (kernel_size - 1) // 2


def output_size(n: int, kernel_size: int, stride: int = 1, padding: Padding = 0, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling layer along one axis.

    ``floor((n + 2p - d (k - 1) - 1) / s) + 1``: of the ``n + 2p`` padded
    positions, the first ``d (k - 1)`` cannot start a window of effective
    width ``d (k - 1) + 1``; the windows start every ``s`` positions.
    ``padding="same"`` pads ``d (k - 1) / 2`` on each side (at stride 1 the
    size is kept; torch pads an even kernel asymmetrically). With
    ``ceil_mode`` (pooling) a last partial window is kept if it starts inside
    the input or its left padding, as torch does.

    >>> output_size(32, 5)              # LeNet-5's C1: 32 -> 28
    28
    >>> output_size(28, 2, stride=2)    # S2: 28 -> 14
    14
    >>> output_size(7, 3, stride=2, padding=1)
    4
    """
    if padding == "same":
        if stride == 1:
            return n
        padding = same_padding(kernel_size, dilation)
    span = n + 2 * padding - dilation * (kernel_size - 1) - 1
    if ceil_mode:
        size = -(-span // stride) + 1
        if (size - 1) * stride >= n + padding:  # the last window would start in the right padding
            size -= 1
        return size
    return span // stride + 1


def output_shape(shape: tuple[int, ...], kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] = 1,
                 padding: Padding | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                 ceil_mode: bool = False) -> tuple[int, ...]:
    """:func:`output_size` on every spatial axis of ``shape`` (an int argument applies to all axes)."""
    def per_axis(value, i):
        return value[i] if isinstance(value, tuple) else value

    return tuple(output_size(n, per_axis(kernel_size, i), per_axis(stride, i), per_axis(padding, i),
                             per_axis(dilation, i), ceil_mode) for i, n in enumerate(shape))


# -- layers by number of spatial dimensions ---------------------------------------


def conv_layer(dims: int) -> type[nn.Module]:
    """``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d`` for 1, 2 or 3 spatial dimensions."""
    check_dims(dims)
    return _CONV[dims]


def norm_layer(norm: str, dims: int, channels: int) -> nn.Module:
    """A normalisation over ``channels`` feature maps: one of :data:`NORMS`.

    ``batch`` normalises each channel over the batch and positions;
    ``group`` normalises each sample over groups of channels (gcd(channels,
    8) groups; independent of the batch size); ``layer`` is group norm with
    one group (all channels and positions of a sample); ``none`` is identity.
    """
    check_dims(dims)
    if norm == "batch":
        return _BATCH_NORM[dims](channels)
    if norm == "group":
        return nn.GroupNorm(math.gcd(channels, 8), channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "none":
        return nn.Identity()
    raise UserError(f"norm must be one of {', '.join(NORMS)}, received {norm!r}")


def check_dims(dims: int) -> None:
    if dims not in DIMS:
        raise UserError(f"dims must be 1, 2 or 3 (spatial dimensions), received {dims!r}")


# -- the convolution block ----------------------------------------------------------


class ConvBlock(nn.Module):
    """Convolution -> normalisation -> activation, for 1, 2 or 3 spatial dimensions.

    Args:
        in_channels: feature maps in.
        out_channels: feature maps out.
        dims: spatial dimensions (1: signals, 2: images, 3: volumes).
        kernel_size: kernel width along every axis.
        stride: step between kernel positions (2 halves the size).
        padding: zeros added on each side, or ``"same"`` to keep the size at
            stride 1 (``d (k - 1) / 2``; with stride > 1 the output is then
            ``ceil(n / s)``, which needs an odd ``kernel_size``).
        dilation: spacing between kernel taps (a dilated 3-tap kernel with
            ``d=2`` sees 5 positions with 3 weights).
        separable: depthwise-separable convolution: a spatial convolution per
            channel (``groups=in_channels``) followed by a 1x1 convolution
            mixing channels; ``k^D C_in + C_in C_out`` weights instead of
            ``k^D C_in C_out``.
        norm: one of :data:`NORMS` (see :func:`norm_layer`).
        activation: one of ``quanta.models.activations.ACTIVATIONS``.
        bias: add a bias to the convolution; None: only when ``norm`` is
            ``"none"`` (a normalisation's shift makes a bias redundant).

    Shapes:
        - input: ``[N, in_channels, *S]`` with ``len(S) == dims``.
        - output: ``[N, out_channels, *S']``, ``S'`` from :func:`output_shape`.
    """

    def __init__(self, in_channels: int, out_channels: int, dims: int = 2, kernel_size: int = 3, stride: int = 1,
                 padding: Padding = "same", dilation: int = 1, separable: bool = False,
                 norm: Norm = "batch", activation: str = "relu",
                 bias: bool | None = None) -> None:
        super().__init__()
        check_dims(dims)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            check_positive(name, value)
        if padding != "same" and (isinstance(padding, bool) or not isinstance(padding, int) or padding < 0):
            raise UserError(f"padding must be 'same' or a non-negative integer, received {padding!r}")
        if padding == "same" and stride > 1:
            if kernel_size % 2 == 0:
                raise UserError(f"padding 'same' with stride {stride} needs an odd kernel_size, "
                                f"received {kernel_size}")
            padding = same_padding(kernel_size, dilation)  # torch allows 'same' only at stride 1
        if activation not in ACTIVATIONS:
            make_activation(activation)  # raises the UserError with a suggestion
        if bias is None:
            bias = norm == "none"
        self.dims, self.kernel_size, self.stride, self.padding, self.dilation = (
            dims, kernel_size, stride, padding, dilation)
        conv = _CONV[dims]
        if separable:
            self.conv: nn.Module = nn.Sequential(
                conv(in_channels, in_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                     groups=in_channels, bias=False),  # depthwise: one spatial filter per channel
                conv(in_channels, out_channels, 1, bias=bias),  # pointwise: mixes the channels
            )
        else:
            self.conv = conv(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                             dilation=dilation, bias=bias)
        self.norm = norm_layer(norm, dims, out_channels)
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, *S] -> [N, C_out, *S']``."""
        return self.act(self.norm(self.conv(x)))


def check_positive(name: str, value: int, where: str = "") -> None:
    """A one-line UserError unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        prefix = f"{where}: " if where else ""
        raise UserError(f"{prefix}{name} must be a positive integer, received {value!r}")


def check_widths(name: str, values: tuple[int, ...], where: str) -> tuple[int, ...]:
    """``values`` as a non-empty tuple of positive integers, or a one-line UserError."""
    values = tuple(values)
    if not values:
        raise UserError(f"{where}: {name} must list at least one width, received ()")
    for i, value in enumerate(values):
        check_positive(f"{name}[{i}]", value, where)
    return values


# -- pooling -----------------------------------------------------------------------


class StochasticPool(nn.Module):
    """Stochastic pooling (Zeiler & Fergus 2013): a random activation per window, by its size.

    In training, each window of ``kernel_size^D`` non-negative activations
    ``a_i`` (the output of a ReLU) is replaced by one of them, drawn with
    probability ``p_i = a_i / sum_j a_j``: large activations are picked most
    often, but not always, which regularises like dropout without discarding
    the strongest response. At evaluation the output is the
    probability-weighted average ``sum_i p_i a_i`` (a deterministic estimate
    of the same choice). Negative inputs get probability 0; a window with
    no positive value draws uniformly (its values are 0 after a ReLU).

    Args:
        dims: spatial dimensions (1, 2 or 3).
        kernel_size: window width along every axis.
        stride: step between windows (default ``kernel_size``).
        ceil_mode: keep a last partial window (padded with zeros) as
            ``nn.MaxPool2d(ceil_mode=True)`` does.

    Shapes:
        - input: ``[N, C, *S]``; output ``[N, C, *S']`` with
          ``S' = output_shape(S, kernel_size, stride, ceil_mode=ceil_mode)``.

    Reference:
        M. D. Zeiler and R. Fergus, "Stochastic pooling for regularization
        of deep convolutional neural networks", ICLR 2013, arXiv:1301.3557.
    """

    def __init__(self, dims: int = 2, kernel_size: int = 2, stride: int | None = None, ceil_mode: bool = False):
        super().__init__()
        check_dims(dims)
        self.dims, self.kernel_size = dims, kernel_size
        self.stride = stride or kernel_size
        self.ceil_mode = ceil_mode

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """The pooling windows, ``[N, C, *S] -> [N, C, *S', kernel_size^D]``."""
        k, s = self.kernel_size, self.stride
        spatial = x.shape[2:]
        if self.ceil_mode:  # zero-pad on the right so that partial windows exist
            target = output_shape(tuple(spatial), k, s, ceil_mode=True)
            pad = [max(0, (o - 1) * s + k - n) for o, n in zip(target, spatial, strict=True)]
            x = nn.functional.pad(x, [p for extra in reversed(pad) for p in (0, extra)])
        for axis in range(2, 2 + self.dims):
            x = x.unfold(axis, k, s)  # appends a window axis of length k
        return x.flatten(-self.dims)  # [N, C, *S', k^D]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, *S] -> [N, C, *S']``: sampled in training, expected value in evaluation."""
        windows = self.windows(x)  # [N, C, *S', K]
        weights = windows.clamp(min=0)
        total = weights.sum(-1, keepdim=True)  # [N, C, *S', 1]
        empty = total == 0
        probabilities = torch.where(empty, torch.full_like(weights, 1.0 / weights.shape[-1]),
                                    weights / torch.where(empty, torch.ones_like(total), total))
        if not self.training:
            return (probabilities * windows).sum(-1)  # [N, C, *S']
        # inverse-CDF sampling: the first index whose cumulative probability exceeds u ~ U(0, 1)
        cumulative = probabilities.cumsum(-1)  # [N, C, *S', K]
        u = torch.rand_like(total)  # [N, C, *S', 1]
        index = (cumulative < u).sum(-1, keepdim=True).clamp(max=windows.shape[-1] - 1)
        return windows.gather(-1, index).squeeze(-1)  # [N, C, *S']

    def extra_repr(self) -> str:
        return f"dims={self.dims}, kernel_size={self.kernel_size}, stride={self.stride}"


def pooling(kind: str, dims: int = 2, kernel_size: int = 2, stride: int | None = None,
            ceil_mode: bool = False) -> nn.Module:
    """A pooling layer: ``"max"``, ``"avg"`` (average) or ``"stochastic"`` (:class:`StochasticPool`).

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows).
    ``ceil_mode`` keeps a last partial window, so that a map smaller than the
    window still gives one value instead of none.
    """
    check_dims(dims)
    if kind == "max":
        return _MAX_POOL[dims](kernel_size, stride, ceil_mode=ceil_mode)
    if kind == "avg":
        # the partial window of ceil_mode averages only the values inside the input
        return _AVG_POOL[dims](kernel_size, stride, ceil_mode=ceil_mode, count_include_pad=False)
    if kind == "stochastic":
        return StochasticPool(dims, kernel_size, stride, ceil_mode)
    raise UserError(f"pool must be one of {', '.join(POOLS)}, received {kind!r}")


class GlobalPool(nn.Module):
    """One value per channel: the mean (``"avg"``) or the maximum (``"max"``) over all positions.

    Global pooling makes a network accept any input size and gives it
    (approximate) translation invariance: where a feature fired no longer
    matters, only how strongly (Lin, Chen & Yan, "Network in network",
    arXiv:1312.4400).

    Shapes:
        - input: ``[N, C, *S]``; output: ``[N, C]``.
    """

    def __init__(self, kind: Literal["avg", "max"] = "avg") -> None:
        super().__init__()
        if kind not in ("avg", "max"):
            raise UserError(f"global_pool must be 'avg' or 'max', received {kind!r}")
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2)  # [N, C, prod(S)]
        return x.mean(-1) if self.kind == "avg" else x.amax(-1)  # [N, C]

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


__all__ = ["DIMS", "NORMS", "POOLS", "ConvBlock", "Dims", "GlobalPool", "Norm", "Padding", "Pool", "StochasticPool",
           "check_dims", "check_positive", "check_widths", "conv_layer", "norm_layer", "output_shape", "output_size",
           "pooling", "same_padding"]
