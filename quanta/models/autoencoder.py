"""The dense autoencoder: inputs squeezed through a small code and rebuilt from it.

An autoencoder is two networks trained as one: an encoder that maps an input
``x`` to a code ``z`` of few numbers and a decoder that maps ``z`` back to the
input's shape, trained to make ``decode(encode(x))`` equal ``x``. A code
narrower than the input must keep what the training data have in common and
drop the rest: with linear layers and a squared error the code spans the
data's leading principal components; nonlinear layers learn a curved
manifold. Samples unlike the training data (an anomaly, a top jet among QCD
jets) are rebuilt worse, so the reconstruction error is an anomaly score
(task ``autoencoding``).

Variants the task trains on the same model: a *denoising* autoencoder sees
corrupted inputs and rebuilds the clean ones (Vincent et al. 2008), a
*sparse* one pays for active code units (Ng's KL penalty needs a code in
(0, 1): ``code_activation="sigmoid"``).

:class:`CodeStatistics` keeps the running mean and covariance of the codes
seen in training, as buffers saved with the weights, for the Mahalanobis
distance of a code to the training codes (the task's ``score="mahalanobis"``);
``conv_autoencoder`` uses it too.

References:
    G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of data
    with neural networks", Science 313, 504 (2006).
    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and
    composing robust features with denoising autoencoders", ICML 2008.
    A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford (2011).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.hints import Size, Widths
from quanta.registry import checked

CodeActivationName = Literal["identity", "sigmoid", "tanh", "relu"]
CODE_ACTIVATIONS: tuple[str, ...] = get_args(CodeActivationName)
CodeActivation = Annotated[CodeActivationName, Field(description=f"one of {', '.join(CODE_ACTIVATIONS)}")]
#: the largest code whose covariance the Mahalanobis score keeps (a k x k buffer)
MAX_STATISTICS_SIZE = 1024


class CodeStatistics(nn.Module):
    """Running mean and covariance of codes ``[N, k]``, and the squared Mahalanobis distance to them.

    ``update(code)`` (called by the task in training) moves the buffers
    towards each batch's mean and covariance by ``momentum``, as batch
    normalisation keeps its running statistics: the encoder changes while it
    trains, so older batches are forgotten and the statistics follow the
    final encoder. They are buffers: saved with the model and in every
    checkpoint (a resumed training continues them bit for bit), constants in
    an exported graph. ``distance(code)`` is
    ``(z - mu)^T (Sigma + eps I)^-1 (z - mu)`` with a small ridge ``eps``
    (1e-6 of the mean variance) so that an unused code unit does not divide
    by zero; for Gaussian codes it follows a chi-squared law with k degrees of
    freedom.

    Shapes:
        - update / distance: code ``[N, k]``; distance returns ``[N]``.
    """

    def __init__(self, size: int, momentum: float = 0.05) -> None:
        super().__init__()
        self.size = size
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("covariance", torch.eye(size))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def update(self, code: torch.Tensor) -> None:
        """Move the running statistics towards those of one batch of codes ``[N, k]``."""
        code = code.detach().float().reshape(code.shape[0], -1)  # [N, k]
        if code.shape[0] < 2:
            return  # a batch of one has no covariance
        mean = code.mean(dim=0)  # [k]
        centred = code - mean
        covariance = centred.T @ centred / (code.shape[0] - 1)  # [k, k]
        if int(self.updates) == 0:
            self.mean.copy_(mean)
            self.covariance.copy_(covariance)
        else:
            self.mean.lerp_(mean, self.momentum)
            self.covariance.lerp_(covariance, self.momentum)
        self.updates += 1

    def distance(self, code: torch.Tensor) -> torch.Tensor:
        """The squared Mahalanobis distance ``[N]`` of codes ``[N, k]`` to the running statistics."""
        if int(self.updates) == 0:
            raise UserError("score 'mahalanobis': the model holds no code statistics; train it with the "
                            "task's score: mahalanobis")
        with torch.autocast(code.device.type, enabled=False):  # a Cholesky factor wants float32
            code = code.float().reshape(code.shape[0], -1)  # [N, k]
            covariance = self.covariance.float()
            ridge = 1e-6 * covariance.diagonal().mean().clamp_min(1e-12)
            eye = torch.eye(self.size, dtype=covariance.dtype, device=covariance.device)
            lower = torch.linalg.cholesky(covariance + ridge * eye)  # Sigma = L L^T
            whitened = torch.linalg.solve_triangular(lower, (code - self.mean).T, upper=False)  # [k, N]
            return whitened.pow(2).sum(dim=0)  # [N]


def code_statistics(size: int) -> CodeStatistics | None:
    """The statistics module for a code of ``size`` numbers, None when it is too large to keep."""
    return CodeStatistics(size) if size <= MAX_STATISTICS_SIZE else None


def _dense_stack(widths: list[int], activation: str) -> nn.Sequential:
    """``Linear -> activation`` between consecutive widths (the hidden layers of one side)."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(width_in, width_out), make_activation(activation)]
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Dense autoencoder: a dense encoder to a small code and the mirrored decoder, on the flattened inputs

    The encoder is ``Linear -> activation`` for each width of ``hidden``, then
    a ``Linear`` to ``code`` units and ``code_activation``; the decoder
    mirrors it (``hidden`` reversed) and ends in a plain ``Linear`` to the
    input's size, reshaped to the input's shape: the outputs are values in the
    units the model sees (quanta's standardised inputs). Any input shape is
    taken (features, images, padded sets); for sets (a ``mask`` in the data,
    which :meth:`for_data` then adds to ``inputs``) the padded slots of the
    output are set to zero, and the task counts only the real elements.

    Args:
        input_shape: per-sample shape of ``x`` (from the data).
        code: the code size (the bottleneck width).
        hidden: widths of the encoder's hidden layers, input side first (the
            decoder's are the same reversed); ``()`` gives a linear autoencoder.
        activation: nonlinearity of the hidden layers.
        code_activation: nonlinearity of the code: ``identity``, ``sigmoid``
            (codes in (0, 1), needed by the KL sparsity penalty), ``tanh``, ``relu``.

    Shapes:
        - encode: ``x [N, *input_shape] -> code [N, code]``.
        - decode: ``code [N, code] -> [N, *input_shape]``.
        - forward: ``x [N, *input_shape]`` (and ``mask [N, P]``) -> ``[N, *input_shape]``.

    Reference:
        G. E. Hinton and R. R. Salakhutdinov, Science 313, 504 (2006).
    """

    inputs: tuple[str, ...] = ("x",)

    @checked("autoencoder")
    def __init__(
        self,
        input_shape: tuple[int, ...],
        code: Size = 8,
        hidden: Widths = (64,),
        activation: Activation = "relu",
        code_activation: CodeActivation = "identity",
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(n) for n in input_shape)
        self.code = code
        self.hidden = tuple(hidden)
        self.activation = activation
        self.code_activation = code_activation
        self.in_features = math.prod(self.input_shape)
        widths = [self.in_features, *self.hidden]
        self.encoder = _dense_stack(widths, activation)
        self.to_code = nn.Linear(widths[-1], code)
        self.code_nonlinearity = make_activation(code_activation)
        self.from_code = nn.Sequential(nn.Linear(code, widths[-1]),
                                       make_activation(activation)) if self.hidden else nn.Identity()
        self.decoder = _dense_stack(widths[::-1][:-1], activation) if len(widths) > 2 else nn.Sequential()
        self.output = nn.Linear(widths[1] if self.hidden else code, self.in_features)
        self.code_statistics = code_statistics(code)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> Autoencoder:
        """An autoencoder of inputs ``shapes["x"]``; ``out_features`` is not used (it rebuilds ``x``)."""
        if "x" not in shapes:
            raise UserError("autoencoder: the data need inputs x to rebuild")
        model = cls(input_shape=tuple(shapes["x"]), **params)
        if "mask" in shapes and len(shapes["x"]) == 2:  # padded sets: forward zeroes the padded slots
            model.inputs = ("x", "mask")
        return model

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes ``[N, code]`` of inputs ``[N, *input_shape]``."""
        h = self.encoder(x.reshape(x.shape[0], self.in_features))  # [N, hidden[-1]]
        return self.code_nonlinearity(self.to_code(h))  # [N, code]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Inputs ``[N, *input_shape]`` rebuilt from codes ``[N, code]``."""
        h = self.decoder(self.from_code(code))  # [N, hidden[0]] (or [N, code] without hidden layers)
        return self.output(h).reshape(code.shape[0], *self.input_shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``decode(encode(x))``, padded slots zero when a ``mask [N, P]`` is given."""
        rebuilt = self.decode(self.encode(x))
        if mask is not None:
            rebuilt = rebuilt * mask.unsqueeze(-1).to(rebuilt.dtype)
        return rebuilt


__all__ = ["CODE_ACTIVATIONS", "Autoencoder", "CodeStatistics", "code_statistics"]
