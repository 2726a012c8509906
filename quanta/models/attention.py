"""Attention building blocks: multi-head attention, the pre-norm encoder layer, positions.

Scaled dot-product attention (Vaswani et al. 2017) lets every element of a
sequence or set look at every other one: each query ``q_i`` scores each key
``k_j`` by ``q_i · k_j / sqrt(d)``, a softmax over ``j`` turns the scores into
weights that sum to one, and the output is the weighted mean of the values
``v_j``. Several *heads* do this in parallel on slices of the features, so
that one head can follow, say, the mirror position while another counts.

Two things steer the weights from outside:

- a **key-padding mask** ``[N, T]`` (True on real elements) removes padded
  keys: their score is lowered by the most negative finite number (not
  -inf, so that a sample with no valid key at all gives finite, meaningless
  outputs instead of NaN), which makes their weight exactly zero;
- an optional **additive bias** ``[N, heads, T_q, T_k]`` is added to the
  scores before the softmax: pairwise physics features such as ln ΔR between
  particles (Particle Transformer, Qu et al. 2022) or relative positions.

The attention itself runs in ``F.scaled_dot_product_attention`` (fused
kernels on GPUs); :meth:`MultiHeadAttention.weights` recomputes the weights
explicitly for inspection and tests.

The encoder layer is *pre-norm* (LayerNorm before attention and before the
feed-forward network, Xiong et al. 2020): the residual path stays an identity,
which trains stably without a learning-rate warm-up. Positional encodings tell
the otherwise permutation-equivariant attention where each step is:
sinusoidal (fixed, any length) or learned (one vector per position).

References:
    A. Vaswani et al., "Attention is all you need", NeurIPS 2017, arXiv:1706.03762.
    R. Xiong et al., "On layer normalization in the transformer architecture",
    ICML 2020, arXiv:2002.04745.
    H. Qu, C. Li and S. Qian, "Particle Transformer for jet tagging", ICML 2022,
    arXiv:2202.03772 (pairwise attention bias).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import activation as make_activation


def attention_bias(mask: torch.Tensor | None, bias: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """The additive score offset for a key-padding ``mask`` and an optional ``bias``.

    Padded keys get the most negative finite value of ``dtype`` (not -inf, so
    that a sample without valid keys yields finite values rather than NaN).

    Shapes:
        - ``mask``: ``[N, T_k]`` bool, True on real keys, or None.
        - ``bias``: ``[N, heads, T_q, T_k]`` (or broadcastable to it), or None.
        - output: ``[N, 1, 1, T_k]``, ``bias``'s shape, or None when both are None.
    """
    if mask is None:
        return None if bias is None else bias.to(dtype)
    padded = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    padded = padded.masked_fill(~mask.bool(), torch.finfo(dtype).min)[:, None, None, :]  # [N, 1, 1, T_k]
    if bias is None:
        return padded
    # the clamp keeps min + (a negative bias) from overflowing to -inf
    return (bias.to(dtype) + padded).clamp_min(torch.finfo(dtype).min)


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention with key-padding mask and additive bias.

    Self-attention when ``context`` is None (queries, keys and values all come
    from ``x``); cross-attention from ``x`` to ``context`` otherwise (the
    pooling by learned seed queries of a Set Transformer, a decoder looking at
    its encoder).

    Args:
        dim: features per element of ``x`` (and of ``context``); divisible by ``heads``.
        heads: number of attention heads, each working on ``dim // heads`` features.
        dropout: dropout on the attention weights during training.

    Shapes:
        - ``x``: ``[N, T_q, dim]``; ``context``: ``[N, T_k, dim]`` (default ``x``).
        - ``mask``: ``[N, T_k]`` bool, True on real keys (padding is ignored).
        - ``bias``: ``[N, heads, T_q, T_k]``, added to the scores before the softmax.
        - output: ``[N, T_q, dim]``.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise UserError(f"attention: dim ({dim}) must be divisible by heads ({heads})")
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.project = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        return x.reshape(n, t, self.heads, self.dim // self.heads).transpose(1, 2)  # [N, H, T, dim/H]

    def _qkv(self, x: torch.Tensor, context: torch.Tensor | None):
        context = x if context is None else context
        k, v = self.key_value(context).chunk(2, dim=-1)  # [N, T_k, dim] each
        return self._split(self.query(x)), self._split(k), self._split(v)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """Attended features ``[N, T_q, dim]`` (see the class docstring for shapes)."""
        q, k, v = self._qkv(x, context)  # [N, H, T, dim/H]
        offset = attention_bias(mask, bias, q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=offset,
                                             dropout_p=self.dropout if self.training else 0.0)  # [N, H, T_q, dim/H]
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], self.dim)  # [N, T_q, dim]
        return self.project(out)

    def weights(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights ``[N, heads, T_q, T_k]`` (each row sums to one), computed explicitly."""
        q, k, _ = self._qkv(x, context)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [N, H, T_q, T_k]
        offset = attention_bias(mask, bias, scores.dtype)
        if offset is not None:
            scores = (scores + offset).clamp_min(torch.finfo(scores.dtype).min)
        return scores.softmax(dim=-1)


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer: ``x + attention(norm(x))``, then ``x + ffn(norm(x))``.

    Args:
        dim: features per element.
        heads: attention heads.
        feedforward: hidden width of the position-wise feed-forward network.
        dropout: dropout on attention weights and on both residual branches.
        activation: nonlinearity of the feed-forward network
            (``quanta.models.activations``).

    Shapes:
        - ``x``: ``[N, T, dim]``; ``mask``: ``[N, T]`` bool or None;
          ``bias``: ``[N, heads, T, T]`` or None.
        - output: ``[N, T, dim]`` (padded elements carry values; mask them downstream).
    """

    def __init__(self, dim: int, heads: int = 4, feedforward: int = 256, dropout: float = 0.0,
                 activation: str = "gelu") -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.feedforward_norm = nn.LayerNorm(dim)
        self.feedforward = nn.Sequential(nn.Linear(dim, feedforward), make_activation(activation),
                                         nn.Dropout(dropout), nn.Linear(feedforward, dim))
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.residual_dropout(self.attention(self.attention_norm(x), mask=mask, bias=bias))  # [N, T, dim]
        return x + self.residual_dropout(self.feedforward(self.feedforward_norm(x)))  # [N, T, dim]


def sinusoids(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Fixed positional encodings ``[length, dim]``: sines and cosines of geometric wavelengths.

    Feature pair ``(2i, 2i+1)`` of position ``t`` is ``(sin, cos)(t / 10000^(2i/dim))``,
    wavelengths from 2π to 10000·2π, so that a shift by k positions is a
    rotation of each pair: relative positions are easy for attention to read.
    """
    position = torch.arange(length, dtype=torch.float32, device=device)[:, None]  # [T, 1]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device)
                          * (-math.log(10000.0) / dim))  # [ceil(dim/2)]
    angle = position * frequency  # [T, ceil(dim/2)]
    encoding = torch.zeros(length, dim, device=device)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return encoding


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal encoding of each step's position (no parameters, any length).

    Shapes: ``x`` ``[N, T, dim]`` -> ``[N, T, dim]``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + sinusoids(x.shape[1], self.dim, x.device).to(x.dtype)  # [N, T, dim]


class LearnedPositions(nn.Module):
    """Adds a learned vector per position 0 ... ``max_length`` - 1.

    Shapes: ``x`` ``[N, T, dim]`` with T <= ``max_length`` -> ``[N, T, dim]``.
    """

    def __init__(self, dim: int, max_length: int = 512) -> None:
        super().__init__()
        self.max_length = max_length
        self.embedding = nn.Parameter(torch.randn(max_length, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_length:
            raise UserError(f"learned positions: sequences have {x.shape[1]} steps, more than "
                            f"max_length = {self.max_length}; raise max_length")
        return x + self.embedding[: x.shape[1]]  # [N, T, dim]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the real elements (axis 1) of each sample; zero for a sample with none.

    Shapes: ``x`` ``[N, T, D]``, ``mask`` ``[N, T]`` bool or None -> ``[N, D]``.
    """
    if mask is None:
        return x.mean(dim=1)
    weight = mask.to(x.dtype).unsqueeze(-1)  # [N, T, 1]
    return (x * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)  # [N, D]


__all__ = ["EncoderLayer", "LearnedPositions", "MultiHeadAttention", "SinusoidalPositions",
           "attention_bias", "masked_mean", "sinusoids"]
