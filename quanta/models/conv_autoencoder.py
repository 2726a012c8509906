"""The convolutional autoencoder: images halved stage by stage to a code, then doubled back.

The encoder is a stack of strided convolutions (:class:`quanta.models.conv.ConvBlock`
with stride 2: every stage halves each spatial size, rounding up, and
widens the feature maps); the decoder mirrors it with transposed
convolutions of stride 2, each sized (``output_padding``) to give back
exactly the size of the encoder stage it mirrors, so that any image size
comes back whole. An optional dense bottleneck flattens the last feature map
to a vector ``code``; without it the code is that feature map. A last
convolution maps the features to the output channels (the input's, unless
the task asks for others), with no activation: outputs are values in the
units the model sees.

Trained by the task ``autoencoding`` it rebuilds its inputs (the
reconstruction error is an anomaly score, e.g. for jet images); trained by
the task ``reconstruction`` on pairs of noisy inputs and clean target images
it is a denoising autoencoder. Convolutions share their weights over the
image, so a convolutional autoencoder needs far fewer weights than a dense
one of the same image and keeps what is local local.

References:
    J. Masci, U. Meier, D. Ciresan and J. Schmidhuber, "Stacked convolutional
    auto-encoders for hierarchical feature extraction", ICANN 2011.
    T. Heimel, G. Kasieczka, T. Plehn and J. M. Thompson, "QCD or what?",
    SciPost Phys. 6, 030 (2019), arXiv:1808.08979.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.autoencoder import CodeActivation, code_statistics
from quanta.models.conv import (
    ConvBlock,
    Dims,
    Norm,
    conv_layer,
    norm_layer,
    output_shape,
    spatial_dims,
)
from quanta.models.hints import Size, Stages
from quanta.registry import checked

_TRANSPOSED = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder: strided convolutions down to a code, transposed convolutions back up

    Encoder: for each width of ``channels``, ``conv(kernel_size, stride 2,
    same padding) -> norm -> activation``; with ``code``, a dense layer from
    the flattened last feature map to ``code`` units and ``code_activation``.
    Decoder: the dense layer back (with ``code``), then for each stage in
    reverse a transposed convolution of stride 2 to the mirrored size ``->
    norm -> activation``, and a last ``conv(kernel_size)`` to the output
    channels.

    Args:
        in_channels: channels of the input images (from the data).
        input_shape: spatial sizes of the inputs (from the data).
        out_channels: output channels; None gives the input's (what task
            ``autoencoding`` asks). :meth:`for_data` sets it to the task's
            output size when the task has one (``reconstruction``: the target
            images' channels).
        channels: feature maps of each encoder stage (each halves the size).
        kernel_size: odd kernel width of every convolution.
        code: size of a dense code between encoder and decoder; None keeps the
            last feature map as the code.
        activation: nonlinearity after every convolution but the last.
        code_activation: nonlinearity of the dense code (``sigmoid`` for the
            KL sparsity penalty); only with ``code``.
        norm: normalisation after each convolution (``none``, ``batch``,
            ``group``, ``layer``).
        dims: spatial dimensions (1, 2 or 3; from the data).

    Shapes:
        - encode: ``x [N, C, *S] -> code [N, code]`` (or ``[N, channels[-1], *S_L]``,
          ``S_L`` each size halved ``len(channels)`` times, rounding up).
        - decode: ``code -> [N, C_out, *S]``.
        - forward: ``x [N, C, *S] -> [N, C_out, *S]``.
    """

    inputs = ("x",)

    @checked("conv_autoencoder")
    def __init__(
        self,
        in_channels: Size,
        input_shape: tuple[int, ...],
        out_channels: Annotated[int | None, Field(
            ge=1, description="a positive integer, or null for the input's channels")] = None,
        channels: Stages = (16, 32),
        kernel_size: Size = 3,
        code: Size | None = None,
        activation: Activation = "relu",
        code_activation: CodeActivation = "identity",
        norm: Annotated[Norm, Field(description="one of none, batch, group, layer")] = "none",
        dims: Dims = 2,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise UserError(f"conv_autoencoder: kernel_size must be odd (3, 5, ...); received {kernel_size}")
        if len(input_shape) != dims:
            raise UserError(f"conv_autoencoder: input_shape {tuple(input_shape)} does not have dims={dims} sizes")
        if code is None and code_activation != "identity":
            raise UserError(f"conv_autoencoder: code_activation '{code_activation}' acts on a dense code; "
                            "give code (its size) too")
        self.in_channels, self.input_shape = in_channels, tuple(int(n) for n in input_shape)
        self.out_channels = out_channels
        self.channels, self.kernel_size, self.code = tuple(channels), kernel_size, code
        self.activation, self.code_activation, self.norm, self.dims = activation, code_activation, norm, dims

        sizes = [self.input_shape]  # the spatial sizes of each stage, the input's first
        stages: list[nn.Module] = []
        width = in_channels
        for out in self.channels:
            stages.append(ConvBlock(width, out, dims, kernel_size, stride=2, padding="same", norm=norm,
                                    activation=activation))
            sizes.append(output_shape(sizes[-1], kernel_size, 2, kernel_size // 2))
            width = out
        self.encoder = nn.Sequential(*stages)
        self.code_shape = (self.channels[-1], *sizes[-1])
        flat = math.prod(self.code_shape)
        if code is not None:
            self.to_code = nn.Sequential(nn.Flatten(), nn.Linear(flat, code), make_activation(code_activation))
            self.from_code = nn.Sequential(nn.Linear(code, flat), make_activation(activation))
        self.code_statistics = code_statistics(code if code is not None else flat)

        ups: list[nn.Module] = []
        for i in range(len(self.channels), 0, -1):  # stage i's maps back to stage i - 1's size
            target, given = sizes[i - 1], sizes[i]
            extra = tuple(t - (2 * n - 1) for t, n in zip(target, given, strict=True))  # 0 or 1 per axis
            width_out = self.channels[max(i - 2, 0)]
            ups += [_TRANSPOSED[dims](self.channels[i - 1], width_out, kernel_size, stride=2,
                                      padding=kernel_size // 2, output_padding=extra, bias=norm == "none"),
                    norm_layer(norm, dims, width_out), make_activation(activation)]
        self.decoder = nn.Sequential(*ups)
        self.output = conv_layer(dims)(self.channels[0], out_channels or in_channels, kernel_size,
                                       padding=kernel_size // 2)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> ConvAutoencoder:
        """A convolutional autoencoder of channels-first inputs ``shapes["x"] = (C, *S)``.

        ``out_features`` is the task's output size: 0 (task ``autoencoding``) rebuilds the input's
        channels; another (task ``reconstruction``) gives that many output channels.
        """
        shape = tuple(shapes["x"])
        spatial_dims("conv_autoencoder", shape, params)
        if out_features > 0:
            params.setdefault("out_channels", out_features)
        return cls(in_channels=shape[0], input_shape=shape[1:], **params)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes of images ``[N, C, *S]``: ``[N, code]``, or the last feature maps without ``code``."""
        h = self.encoder(x)  # [N, channels[-1], *S_L]
        return self.to_code(h) if self.code is not None else h

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Images ``[N, C_out, *S]`` rebuilt from codes."""
        h = self.from_code(code).reshape(code.shape[0], *self.code_shape) if self.code is not None else code
        return self.output(self.decoder(h))  # [N, C_out, *S]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``: ``[N, C, *S] -> [N, C_out, *S]``."""
        return self.decode(self.encode(x))


__all__ = ["ConvAutoencoder"]
