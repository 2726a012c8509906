"""The Particle Transformer (ParT): attention over a jet's particles, steered by pairwise physics.

A jet is a set of particles. ParT (Qu, Li and Qian 2022) embeds each
particle's features with an MLP and passes the set through transformer
blocks whose attention logits get an additive bias computed from every pair
of particles' four-momenta:

    attention weights = softmax(Q K^T / sqrt(d) + U),

``U[h, i, j]`` being one number per head ``h`` learned from four interaction
features of the pair (i, j), with ``y`` the rapidity, ``φ`` the azimuth and
``pT`` the transverse momentum (lab frame, GeV):

- ``ln Δ``, ``Δ = sqrt((y_i - y_j)² + (φ_i - φ_j)²)`` (Δφ wrapped to (-π, π]);
- ``ln kT``, ``kT = min(pT_i, pT_j) Δ``;
- ``ln z``, ``z = min(pT_i, pT_j) / (pT_i + pT_j)``;
- ``ln m²``, ``m² = (E_i + E_j)² - |p_i + p_j|²`` (GeV²).

They are the variables of a 1 → 2 splitting that QCD's collinear and soft
limits make special, so a head can learn "look at close, soft-collinear
neighbours" or "look at pairs near the W mass". The pair features go through
a pointwise MLP (the paper's 1 × 1 convolutions) to one bias per head.

After the particle attention blocks, *class attention* blocks (CaiT, Touvron
et al. 2021) update a learned class token only: it attends to itself and all
particles; its final state, layer-normalised, feeds a linear head. Without
positional encodings everything is permutation equivariant and the class
token makes the output invariant; padded particles are removed from every
attention as keys, from every batch statistic, and get zero embeddings, so
padding changes nothing.

Numerical care: the per-particle kinematics (pT, y, transverse direction,
mass) are computed in float64 from the float32 four-momenta, so are each
pair's Δy and Δφ (the latter as the angle between the two transverse
directions), the rest in float32; a mass below the rounding of the inputs is
taken as zero (:func:`particle_kinematics`); and the pair mass is the sum of
non-negative terms

    m² = m_i² + m_j² + 2 (mT_i mT_j - pT_i pT_j) + 4 mT_i mT_j sinh²(Δy / 2)
         + 4 pT_i pT_j sin²(Δφ / 2),

(``mT = sqrt(pT² + m²)``, ``mT_i mT_j - pT_i pT_j = δ_i mT_j + pT_i δ_j`` with
``δ = m² / (mT + pT)``), which equals the definition exactly but does not
lose the small mass of a collinear pair to the cancellation of
``(E_i + E_j)² - |p_i + p_j|²``. Every logarithm takes ``max(·, eps)``; the
features of pairs with a padded particle are never used (zero bias, outside
every batch norm). A particle paired with itself (Δ = 0) has degenerate
features (``ln Δ = ln eps``, far below every real pair, which would dominate
the feature normalisation): instead the diagonal gets one learned bias per
head.

Only operations that ONNX export records for any number of particles are
used (no ``triu_indices``, ``asinh``, ``sinh`` or ``diag_embed``).

Unlike ``set_transformer`` with ``pair_bias`` (which reads the angles and
``ln pT`` from ``x`` and so needs unstandardised inputs), this model takes
the pair features from the raw ``p4``, which quanta never standardises, and
its particle features ``x`` may be standardised as usual.

Deviations from the reference implementation (``weaver-core``): batch norms
are masked (statistics of real particles and pairs only, not padding), the
class-attention query is the layer-normalised token, and NormFormer's
per-head and residual scale parameters are left out.

References:
    H. Qu, C. Li and S. Qian, "Particle Transformer for jet tagging", ICML
    2022, arXiv:2202.03772.
    S. Shleifer, J. Weston and M. Ott, "NormFormer: improved transformer
    pretraining with extra normalization", arXiv:2110.09456.
    H. Touvron et al., "Going deeper with image transformers" (class
    attention), ICCV 2021, arXiv:2103.17239.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.attention import MultiHeadAttention
from quanta.models.graph import MaskedBatchNorm
from quanta.models.hints import NonNegative, Probability, Size, Stages, Widths
from quanta.registry import checked

PAIR_FEATURE_NAMES = ("ln_delta", "ln_kt", "ln_z", "ln_m2")
EPS = 1e-8


def particle_kinematics(p4: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per particle: ``pt``, ``rapidity``, ``m2``, ``mt``, ``excess`` = mT - pT, and ``ux``, ``uy``.

    ``(ux, uy) = (cos φ, sin φ)`` is the transverse direction ((1, 0) for pT = 0).

    Computed in float64 (float32 on devices without it). A zero four-vector
    (padding) gives zeros, never NaN. A mass below the rounding of the
    inputs (``m² <= 4 E² u``, ``u`` the unit roundoff of ``p4``'s dtype:
    2⁻²⁴ for float32, about 0.5 GeV² at E = 3 TeV) is not resolved by
    them and is taken as zero, so that rounding does not invent masses that
    would swamp the invariant mass of a collinear pair.

    Shapes: ``p4`` ``[..., 4]`` = (E, px, py, pz) in GeV -> each ``[...]`` (GeV, GeV² or none).
    """
    dtype = torch.float32 if p4.device.type == "mps" else torch.float64
    roundoff = torch.finfo(p4.dtype if p4.dtype.is_floating_point else dtype).eps / 2
    energy, px, py, pz = p4.to(dtype).unbind(-1)
    pt2 = px * px + py * py
    m2 = energy * energy - pt2 - pz * pz
    m2 = torch.where(m2 > 4 * roundoff * energy * energy, m2, torch.zeros_like(m2))
    pt, mt = pt2.sqrt(), (pt2 + m2).sqrt()
    e = (mt * mt + pz * pz).sqrt()  # the energy, consistent with the mass kept
    tiny = 1e-30  # GeV: below any momentum, above float32 underflow (ONNX may cast it)
    return {
        "pt": pt,
        # y = ½ ln((E + pz)/(E - pz)) = sign(pz) ln((E + |pz|)/mT): no cancellation
        "rapidity": torch.sign(pz) * ((e + pz.abs()) / mt.clamp_min(tiny)).clamp_min(1).log(),
        "ux": torch.where(pt > 0, px / pt.clamp_min(tiny), torch.ones_like(pt)),
        "uy": py / pt.clamp_min(tiny),
        "m2": m2,
        "mt": mt,
        "excess": m2 / (mt + pt).clamp_min(tiny),  # mT - pT without cancellation
    }


def _sinh(x: torch.Tensor) -> torch.Tensor:
    """``sinh x`` to full relative precision near 0 (a series), from ``exp`` elsewhere.

    ``torch.sinh`` is not in the TorchScript ONNX exporter; ``(e^x - e^-x) / 2``
    alone would lose the small rapidity differences of collinear pairs.
    """
    small = x.abs() < 0.1
    series = x * (1 + x * x / 6 * (1 + x * x / 20))  # x + x³/6 + x⁵/120, relative error < 3e-10
    return torch.where(small, series, (torch.exp(x) - torch.exp(-x)) / 2)


def pair_features_of(
    p4: torch.Tensor, first: torch.Tensor, second: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """ParT's interaction features of the pairs (``first[t]``, ``second[t]``) of each jet.

    Shapes:
        - ``p4``: ``[N, P, 4]`` = (E, px, py, pz) in GeV.
        - ``first``, ``second``: ``[T]`` particle indices.
        - output: ``[N, T, 4]`` float32, in the order of ``PAIR_FEATURE_NAMES``
          (``ln Δ``, ``ln kT`` with kT in GeV, ``ln z``, ``ln m²`` with m² in GeV²).
    """
    k = particle_kinematics(p4)  # [N, P] each, float64
    # the angles between the two in float64 (no cancellation lost), the rest in float32
    d_y = (k["rapidity"][:, first] - k["rapidity"][:, second]).float()  # [N, T]
    ux_i, uy_i, ux_j, uy_j = (k[u][:, index] for index in (first, second) for u in ("ux", "uy"))
    d_phi = torch.atan2((uy_i * ux_j - ux_i * uy_j).float(), (ux_i * ux_j + uy_i * uy_j).float())
    k = {name: k[name].float() for name in ("pt", "m2", "mt", "excess")}
    k["ln_pt"] = k["pt"].clamp_min(eps).log()
    a = {name: value[:, first] for name, value in k.items()}  # [N, T] each
    b = {name: value[:, second] for name, value in k.items()}
    m2 = (
        a["m2"]
        + b["m2"]
        + 2 * (a["excess"] * b["mt"] + a["pt"] * b["excess"])
        + 4 * a["mt"] * b["mt"] * _sinh(d_y / 2) ** 2
        + 4 * a["pt"] * b["pt"] * torch.sin(d_phi / 2) ** 2
    )
    log_eps = math.log(eps)
    ln_delta = 0.5 * (d_y * d_y + d_phi * d_phi).clamp_min(eps * eps).log()  # = ln max(Δ, eps)
    ln_pt_min = torch.minimum(a["ln_pt"], b["ln_pt"])  # ln max(min pT, eps)
    features = torch.stack(
        [
            ln_delta,
            (ln_pt_min + ln_delta).clamp_min(
                log_eps
            ),  # = ln max(min pT Δ, eps) unless Δ or pT < eps
            (ln_pt_min - (a["pt"] + b["pt"]).clamp_min(eps).log()).clamp_min(log_eps),
            m2.clamp_min(eps).log(),
        ],
        dim=-1,
    )  # [N, T, 4]
    return features


def pair_features(p4: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """The interaction features of every ordered pair (i, j): ``[N, P, 4]`` -> ``[N, P, P, 4]``.

    Symmetric in (i, j); the diagonal holds the degenerate self-pair values
    (``ln Δ = ln eps``). See :func:`pair_features_of` for units.
    """
    n, p = p4.shape[:2]
    first, second = torch.meshgrid(
        torch.arange(p, device=p4.device), torch.arange(p, device=p4.device), indexing="ij"
    )
    return pair_features_of(p4, first.reshape(-1), second.reshape(-1), eps).reshape(n, p, p, 4)


def upper_pairs(p: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs ``i < j`` of ``p`` particles in row-major order (``torch.triu_indices(p, p, 1)``).

    Computed from ``arange`` by arithmetic (the row of pair ``t`` solves a
    quadratic, then is corrected by one where rounding put it off), so that
    ONNX export records it for any ``p`` rather than as constants of the
    traced length, and without a data-dependent ``nonzero``.

    Shapes: ``first``, ``second`` ``[p (p - 1) / 2]`` int64.
    """
    t = torch.arange(p * (p - 1) // 2, device=device)  # [T]
    dtype = torch.float32 if t.device.type == "mps" else torch.float64
    b = 2 * p - 1
    row = torch.floor((b - torch.sqrt((b * b - 8 * t).to(dtype))) / 2).long()  # [T]

    def start(i: torch.Tensor) -> torch.Tensor:  # index of the first pair of row i
        return i * (2 * p - i - 1) // 2

    row = row - (start(row) > t).long()
    row = row + (start(row + 1) <= t).long()
    return row, t - start(row) + row + 1


class ParticleEmbedding(nn.Module):
    """Particle features -> ``dims[-1]``: masked batch norm, then LayerNorm, Linear, GELU per width.

    Shapes: ``x`` ``[N, P, F]``, ``mask`` ``[N, P]`` -> ``[N, P, dims[-1]]``, zero for padding.
    """

    def __init__(self, in_features: int, dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.input_norm = MaskedBatchNorm(in_features)
        layers: list[nn.Module] = []
        for width_in, width in zip((in_features, *dims[:-1]), dims, strict=True):
            layers += [
                nn.LayerNorm(width_in),
                nn.Linear(width_in, width),
                make_activation(activation),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(self.input_norm(x, mask)) * mask.unsqueeze(-1).to(x.dtype)  # [N, P, D]


class PairEmbedding(nn.Module):
    """Pair features -> one attention bias per head: the paper's pointwise (1 x 1 convolution) MLP.

    The features of the pairs i < j are normalised (masked batch norm over
    pairs of two real particles), passed through ``Linear -> masked batch
    norm -> activation`` per width and a final ``Linear`` to ``heads``
    numbers; the bias is symmetric, zero where either particle is padding,
    and the diagonal (self-pairs) is a learned number per head.

    Shapes: ``p4`` ``[N, P, 4]``, ``mask`` ``[N, P]`` -> ``[N, heads, P, P]``.
    """

    def __init__(self, heads: int, widths: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.heads = heads
        self.input_norm = MaskedBatchNorm(len(PAIR_FEATURE_NAMES))
        dims = (len(PAIR_FEATURE_NAMES), *widths)
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.norms = nn.ModuleList(MaskedBatchNorm(width) for width in widths)
        self.activations = nn.ModuleList(make_activation(activation) for _ in widths)
        self.output = nn.Linear(dims[-1], heads)
        self.self_bias = nn.Parameter(torch.zeros(heads))

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, p = mask.shape
        first, second = upper_pairs(p, mask.device)  # [T], T = P(P-1)/2
        valid = mask[:, first] & mask[:, second]  # [N, T]
        h = self.input_norm(pair_features_of(p4, first, second), valid)  # [N, T, 4]
        for linear, norm, act in zip(self.linears, self.norms, self.activations, strict=True):
            h = act(norm(linear(h), valid))  # [N, T, width]
        upper = (self.output(h) * valid.unsqueeze(-1).to(h.dtype)).transpose(1, 2)  # [N, heads, T]
        diagonal = self.self_bias[None, :, None] * mask[:, None, :].to(upper.dtype)  # [N, heads, P]
        index = torch.arange(p, device=mask.device)
        bias = upper.new_zeros(n, self.heads, p * p)  # flat (i, j) -> i P + j
        bias = bias.index_copy(2, first * p + second, upper)
        bias = bias.index_copy(2, second * p + first, upper)  # symmetric
        bias = bias.index_copy(2, index * (p + 1), diagonal)
        return bias.reshape(n, self.heads, p, p)  # [N, heads, P, P]


class ParticleAttentionBlock(nn.Module):
    """ParT's particle attention block (pre-norm with NormFormer's two extra LayerNorms).

    ``x + drop(LN(MHA(LN(x), bias)))``, then
    ``x + drop(Linear(LN(drop(GELU(Linear(LN(x)))))))``.

    Shapes: ``x`` ``[N, P, dim]``, ``mask`` ``[N, P]``, ``bias`` ``[N, heads, P, P]`` or None
    -> ``[N, P, dim]`` (padded particles carry values; they are masked downstream).
    """

    def __init__(
        self, dim: int, heads: int, feedforward: int, dropout: float, activation: str
    ) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.post_attention_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, feedforward),
            make_activation(activation),
            nn.Dropout(dropout),
            nn.LayerNorm(feedforward),
            nn.Linear(feedforward, dim),
        )
        self.residual_dropout = nn.Dropout(dropout)

    def _feedforward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_dropout(self.feedforward(x))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        attended = self.attention(self.attention_norm(x), mask=mask, bias=bias)  # [N, P, dim]
        return self._feedforward(x + self.residual_dropout(self.post_attention_norm(attended)))


class ClassAttentionBlock(ParticleAttentionBlock):
    """ParT's class attention block: a class token attends to itself and the particles.

    Only the token is updated (the particles are keys and values, not queries).

    Shapes: ``token`` ``[N, 1, dim]``, ``x`` ``[N, P, dim]``, ``mask`` ``[N, P]``
    -> ``[N, 1, dim]``.
    """

    def forward(self, token: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        context = self.attention_norm(torch.cat([token, x], dim=1))  # [N, 1 + P, dim]
        keys = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # [N, 1 + P]
        attended = self.attention(context[:, :1], context=context, mask=keys)  # [N, 1, dim]
        return self._feedforward(token + self.residual_dropout(self.post_attention_norm(attended)))


class ParticleTransformer(nn.Module):
    """Particle Transformer: particle attention with pairwise interaction bias, then class attention

    The per-particle features ``x`` (standardised by quanta by default) are
    embedded by :class:`ParticleEmbedding` (widths ``embed_dims``, the last
    being the model width); ``particle_blocks`` blocks of attention over the
    particles follow, each adding the bias ``U`` of :class:`PairEmbedding`
    (the same for every block, as in the paper) computed from the raw
    four-momenta ``p4`` (quanta never standardises ``p4``); then
    ``class_blocks`` class-attention blocks update a class token, whose
    LayerNorm feeds a linear layer to the outputs. With
    ``pair_features=False`` the bias is left out (the paper's "plain
    transformer" ablation) and the model reads ``x`` and ``mask`` only.

    The defaults are the paper's: ``embed_dims=(128, 512, 128)``, 8 heads, 8
    particle and 2 class blocks, ``pair_embed_dims=(64, 64, 64)``, feed-forward
    width 4 x 128 and dropout 0.1: 2.14M parameters, as the paper counts.

    Args:
        in_features: features per particle ``F``.
        out_features: outputs per jet.
        embed_dims: widths of the particle embedding; the last is the model width,
            a multiple of ``heads``.
        heads: attention heads.
        particle_blocks: particle attention blocks.
        class_blocks: class attention blocks.
        pair_embed_dims: hidden widths of the pair embedding (a final linear layer to
            ``heads`` follows).
        pair_features: add the pairwise interaction bias (needs ``p4``).
        feedforward_ratio: hidden width of each block's feed-forward network, in units
            of the model width.
        dropout: dropout on attention weights, feed-forward activations and residual branches.
        activation: nonlinearity of embeddings and feed-forward networks (GELU in the paper).

    Shapes:
        - ``x``: ``[N, P, F]``; ``mask``: ``[N, P]`` bool, False for padding;
          ``p4``: ``[N, P, 4]`` = (E, px, py, pz) in GeV (with ``pair_features``).
        - output: ``[N, out_features]``.
    """

    inputs: tuple[str, ...] = ("x", "mask", "p4")  # the batch arrays forward() takes, in order

    @checked("particle_transformer")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        embed_dims: Stages = (128, 512, 128),
        heads: Size = 8,
        particle_blocks: NonNegative = 8,
        class_blocks: Size = 2,
        pair_embed_dims: Widths = (64, 64, 64),
        pair_features: bool = True,
        feedforward_ratio: Size = 4,
        dropout: Probability = 0.1,
        activation: Activation = "gelu",
    ) -> None:
        super().__init__()
        dim = embed_dims[-1]
        if dim % heads:
            raise UserError(
                f"particle_transformer: the last of embed_dims ({dim}) must be a multiple of "
                f"heads ({heads})"
            )
        self.in_features, self.out_features, self.dim = in_features, out_features, dim
        if not pair_features:
            self.inputs = ("x", "mask")
        self.embed = ParticleEmbedding(in_features, tuple(embed_dims), activation)
        self.pair_embedding = (
            PairEmbedding(heads, tuple(pair_embed_dims), activation) if pair_features else None
        )
        feedforward = feedforward_ratio * dim
        self.blocks = nn.ModuleList(
            ParticleAttentionBlock(dim, heads, feedforward, dropout, activation)
            for _ in range(particle_blocks)
        )
        self.class_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.class_blocks = nn.ModuleList(
            ClassAttentionBlock(dim, heads, feedforward, dropout, activation)
            for _ in range(class_blocks)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_features)

    @classmethod
    def for_data(
        cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params
    ) -> ParticleTransformer:
        """A Particle Transformer for jets ``x`` of per-sample shape ``(P, F)`` (and ``p4``)."""
        if len(shapes["x"]) != 2 or "mask" not in shapes:
            raise UserError(
                f"particle_transformer: inputs must be particle sets x[N, P, F] with a mask, "
                f"received per-sample shape {shapes['x']}"
            )
        if params.get("pair_features", True) and tuple(shapes.get("p4", ())) != (shapes["x"][0], 4):
            found = f"p4 of per-sample shape {tuple(shapes['p4'])}" if "p4" in shapes else "no p4"
            raise UserError(
                f"particle_transformer: pair_features needs four-momenta p4[N, P, 4] "
                f"(E, px, py, pz in GeV, P = {shapes['x'][0]}), as the jets constituents view "
                f"gives; found {found} (or set pair_features: false)"
            )
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    def attention_bias(self, mask: torch.Tensor, p4: torch.Tensor | None) -> torch.Tensor | None:
        """The pairwise bias ``U`` ``[N, heads, P, P]`` (None without ``pair_features``)."""
        if self.pair_embedding is None:
            return None
        if p4 is None:
            raise UserError(
                "particle_transformer: pair_features needs the four-momenta p4[N, P, 4]"
            )
        return self.pair_embedding(p4, mask)

    def forward_features(
        self, x: torch.Tensor, mask: torch.Tensor, p4: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The jet representation ``[N, dim]``: the layer-normalised class token."""
        mask = mask.bool()
        bias = self.attention_bias(mask, p4)
        h = self.embed(x, mask)  # [N, P, dim]
        for block in self.blocks:
            h = block(h, mask, bias)  # [N, P, dim]
        token = self.class_token.expand(h.shape[0], -1, -1)  # [N, 1, dim]
        for block in self.class_blocks:
            token = block(token, h, mask)  # [N, 1, dim]
        return self.norm(token[:, 0])  # [N, dim]

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, p4: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` of ``x[N, P, F]``, ``mask[N, P]``, ``p4[N, P, 4]``."""
        return self.head(self.forward_features(x, mask, p4))  # [N, out_features]


__all__ = [
    "PAIR_FEATURE_NAMES",
    "ParticleTransformer",
    "pair_features",
    "pair_features_of",
    "particle_kinematics",
    "upper_pairs",
]
