"""A Transformer over sets of particles, with the Particle Transformer's pairwise attention bias.

Self-attention without positional encodings is permutation equivariant: every
element attends to every other by content alone, so a stack of attention
blocks maps a set to a set of the same order, and a symmetric pooling at the
end (a class token that attends to all elements, or a masked mean) gives a
permutation-invariant output. Padded elements are removed from every
attention as keys, so padding changes nothing.

The Particle Transformer (ParT) adds physics to the attention scores: for
every pair of particles it computes interaction features from their
kinematics and embeds them to one additive bias per head, so a head can
prefer, say, close-by pairs or pairs with a large invariant mass. The pair
features, following ParT (massless particles, momenta relative to the jet):

- ``ln ΔR_ij``, ΔR = sqrt(Δη² + Δφ²) the angular distance;
- ``ln kT_ij = ln min(pT_i, pT_j) + ln ΔR_ij``, the relative transverse momentum;
- ``ln z_ij = ln min(pT_i, pT_j) - ln(pT_i + pT_j)``, the momentum sharing;
- ``ln m²_ij = ln(2 pT_i pT_j (cosh Δη_ij - cos Δφ_ij))``, the pair's invariant mass.

The class-token pooling is ParT's *class attention*: after the particle
blocks, a learned token attends to (itself and) all particles in a few
blocks of its own, and its final state is the jet's representation.

Reference:
    H. Qu, C. Li and S. Qian, "Particle Transformer for jet tagging", ICML
    2022, arXiv:2202.03772.
    J. Lee et al., "Set Transformer: a framework for attention-based
    permutation-invariant neural networks", ICML 2019, arXiv:1810.00825.
    A. Vaswani et al., "Attention is all you need", NeurIPS 2017, arXiv:1706.03762.
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
from quanta.models.attention import EncoderLayer, MultiHeadAttention
from quanta.models.graph import MaskedBatchNorm, masked_mean
from quanta.models.hints import NonNegative, Probability, Size, Widths
from quanta.registry import checked

Pooling = Literal["class_token", "mean"]
POOLINGS: tuple[str, ...] = get_args(Pooling)
PAIR_FEATURE_NAMES = ("ln_delta_r", "ln_kt", "ln_z", "ln_m2")


def pair_features(eta: torch.Tensor, phi: torch.Tensor, log_pt: torch.Tensor,
                  eps: float = 1e-8) -> torch.Tensor:
    """ParT's interaction features of every pair of particles (see the module docstring).

    Everything is computed in log space from ``ln pT``, which keeps the
    numbers moderate over the orders of magnitude of a jet's spectrum. The
    diagonal (a particle with itself, ΔR = 0) gets ``ln eps``-sized values.

    Shapes:
        - ``eta``, ``phi``, ``log_pt``: ``[N, P]`` (eta and phi relative to
          the jet axis or absolute: only differences enter).
        - output: ``[N, P, P, 4]`` in the order of ``PAIR_FEATURE_NAMES``.
    """
    d_eta = eta.unsqueeze(2) - eta.unsqueeze(1)  # [N, P, P]
    d_phi = torch.remainder(phi.unsqueeze(2) - phi.unsqueeze(1) + math.pi, 2 * math.pi) - math.pi  # [N, P, P]
    l_i, l_j = log_pt.unsqueeze(2), log_pt.unsqueeze(1)  # [N, P, 1], [N, 1, P]
    log_min = torch.minimum(l_i, l_j)  # [N, P, P]
    ln_delta_r = 0.5 * torch.log(d_eta * d_eta + d_phi * d_phi + eps)
    ln_kt = log_min + ln_delta_r
    ln_z = log_min - torch.logaddexp(l_i, l_j)
    ln_m2 = math.log(2.0) + l_i + l_j + torch.log((torch.cosh(d_eta) - torch.cos(d_phi)).clamp_min(0) + eps)
    return torch.stack([ln_delta_r, ln_kt, ln_z, ln_m2], dim=-1)  # [N, P, P, 4]


class PairEmbedding(nn.Module):
    """Pair features -> one attention bias per head: masked batch norm, then a small MLP.

    Shapes: features ``[N, P, P, 4]``, pair mask ``[N, P, P]`` -> bias ``[N, heads, P, P]``.
    """

    def __init__(self, heads: int, hidden: int = 32, activation: str = "gelu") -> None:
        super().__init__()
        self.norm = MaskedBatchNorm(len(PAIR_FEATURE_NAMES))
        self.net = nn.Sequential(nn.Linear(len(PAIR_FEATURE_NAMES), hidden), make_activation(activation),
                                 nn.Linear(hidden, heads))

    def forward(self, features: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        bias = self.net(self.norm(features, pair_mask))  # [N, P, P, heads]
        return bias.permute(0, 3, 1, 2)  # [N, heads, P, P]


class ClassAttentionBlock(nn.Module):
    """Pre-norm block in which only a class token is updated, attending to itself and the particles.

    Shapes: ``token`` ``[N, 1, dim]``, ``x`` ``[N, P, dim]``, ``mask`` ``[N, P]`` -> ``[N, 1, dim]``.
    """

    def __init__(self, dim: int, heads: int, feedforward: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.feedforward_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(nn.Linear(dim, feedforward), make_activation(activation),
                                         nn.Dropout(dropout), nn.Linear(feedforward, dim))

    def forward(self, token: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        context = self.norm(torch.cat([token, x], dim=1))  # [N, 1 + P, dim]
        keys = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # [N, 1 + P]
        token = token + self.attention(context[:, :1], context=context, mask=keys)  # [N, 1, dim]
        return token + self.feedforward(self.feedforward_norm(token))  # [N, 1, dim]


class SetTransformer(nn.Module):
    """Transformer over sets: self-attention without positions, optional pairwise bias

    Inputs are normalised per feature over the valid elements (a masked batch
    norm, like ParticleNet's), embedded by a two-layer network to ``dim``, and
    passed through ``layers`` pre-norm self-attention blocks
    (:class:`quanta.models.attention.EncoderLayer`) with a key-padding mask
    and no positional encoding. The set is then pooled by ParT's class
    attention (``"class_token"``, ``class_layers`` blocks) or by a masked
    mean (``"mean"``), and a dense head gives the outputs.

    With ``pair_bias=True`` the attention scores of every particle block get
    the ParT bias embedded from the pair features (``ln ΔR``, ``ln kT``,
    ``ln z``, ``ln m²``; module docstring), computed from the features at
    ``kinematics = (eta, phi, log_pt)`` — by default indices 0, 1, 2, the
    delta_eta, delta_phi and log_pt of the jets ``constituents`` view. These
    must be in physical units: train with ``standardize=False`` (in
    ``quanta.fit`` or the experiment's ``data`` section; the model normalises
    its own token inputs), since quanta's standardisation would rescale the
    angles and logs before the model sees them.

    Args:
        in_features: features per element ``F``.
        out_features: outputs per set.
        dim: width of the element representations; divisible by ``heads``.
        heads: attention heads.
        layers: self-attention blocks over the elements.
        feedforward: hidden width of each block's feed-forward network.
        dropout: dropout on attention weights and residual branches.
        activation: nonlinearity of embedding, feed-forward and head networks.
        pooling: ``"class_token"`` (class attention) or ``"mean"``.
        class_layers: class-attention blocks (``pooling="class_token"``).
        pair_bias: add ParT's pairwise attention bias.
        kinematics: indices of (eta, phi, log pT) among the features (``pair_bias``).
        pair_hidden: hidden width of the pair-feature embedding.
        head: hidden widths of the output network (a final linear layer follows).

    Shapes:
        - input ``x``: ``[N, P, F]``; ``mask``: ``[N, P]`` bool, False for padding.
        - output: ``[N, out_features]``.
    """

    inputs = ("x", "mask")  # the batch arrays forward() takes, in order

    @checked("set_transformer")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        dim: Size = 64,
        heads: Size = 4,
        layers: NonNegative = 3,
        feedforward: Size = 128,
        dropout: Probability = 0.0,
        activation: Activation = "gelu",
        pooling: Annotated[Pooling, Field(description="one of class_token, mean")] = "class_token",
        class_layers: NonNegative = 1,
        pair_bias: bool = False,
        kinematics: Annotated[tuple[int, int, int], Field(description="three feature indices (eta, phi, log_pt)")] = (0, 1, 2),
        pair_hidden: Size = 32,
        head: Widths = (64,),
    ) -> None:
        super().__init__()
        if dim % heads:
            raise UserError(f"set_transformer: dim ({dim}) must be a positive multiple of heads ({heads})")
        if pooling == "class_token" and class_layers < 1:
            raise UserError("set_transformer: pooling 'class_token' needs class_layers >= 1")
        if pair_bias and not all(0 <= i < in_features for i in kinematics):
            raise UserError(f"set_transformer: kinematics must be three feature indices (eta, phi, log_pt) "
                            f"below in_features = {in_features}, received {kinematics}")
        self.in_features, self.out_features, self.dim = in_features, out_features, dim
        self.pooling, self.pair_bias, self.kinematics = pooling, pair_bias, kinematics

        self.input_norm = MaskedBatchNorm(in_features)
        self.embed = nn.Sequential(nn.Linear(in_features, dim), make_activation(activation), nn.Linear(dim, dim))
        self.pair_embedding = PairEmbedding(heads, pair_hidden, activation) if pair_bias else None
        self.blocks = nn.ModuleList(EncoderLayer(dim, heads, feedforward, dropout, activation)
                                    for _ in range(layers))
        if pooling == "class_token":
            self.class_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
            self.class_blocks = nn.ModuleList(ClassAttentionBlock(dim, heads, feedforward, dropout, activation)
                                              for _ in range(class_layers))
        self.norm = nn.LayerNorm(dim)
        widths = (dim, *head)
        mlp: list[nn.Module] = []
        for width_in, width in zip(widths[:-1], widths[1:], strict=True):
            mlp += [nn.Linear(width_in, width), make_activation(activation)]
            if dropout > 0:
                mlp.append(nn.Dropout(dropout))
        self.head = nn.Sequential(*mlp, nn.Linear(widths[-1], out_features))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> SetTransformer:
        """A set Transformer for sets ``x`` of per-sample shape ``(P, F)``."""
        if len(shapes["x"]) != 2:
            raise UserError(f"set_transformer: inputs must be sets x[N, P, F] with a mask, received "
                            f"per-sample shape {shapes['x']}")
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    def attention_bias(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
        """ParT's pairwise bias ``[N, heads, P, P]`` (None without ``pair_bias``)."""
        if self.pair_embedding is None:
            return None
        eta, phi, log_pt = (x[..., i].float() for i in self.kinematics)  # [N, P] each
        pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)  # [N, P, P]
        return self.pair_embedding(pair_features(eta, phi, log_pt), pair_mask)  # [N, heads, P, P]

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pooled representation of each set ``[N, dim]``."""
        mask = mask.bool()
        bias = self.attention_bias(x, mask)
        h = self.embed(self.input_norm(x, mask))  # [N, P, dim]
        for block in self.blocks:
            h = block(h, mask=mask, bias=bias)  # [N, P, dim]
        if self.pooling == "mean":
            return masked_mean(self.norm(h), mask)  # [N, dim]
        token = self.class_token.expand(h.shape[0], -1, -1)  # [N, 1, dim]
        for block in self.class_blocks:
            token = block(token, h, mask)  # [N, 1, dim]
        return self.norm(token[:, 0])  # [N, dim]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for sets ``x[N, P, F]`` with ``mask[N, P]``."""
        return self.head(self.forward_features(x, mask))  # [N, out_features]


__all__ = ["PAIR_FEATURE_NAMES", "POOLINGS", "SetTransformer", "pair_features"]
