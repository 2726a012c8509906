"""The transformer encoder: self-attention over the steps of a sequence.

Where a recurrent network passes information from step to step, a
transformer lets every step attend to every other step in one operation
(Vaswani et al. 2017): a stack of layers, each a multi-head self-attention
followed by a position-wise feed-forward network, both inside residual
connections. Attention is blind to order, so each step's embedding gets a
positional encoding added. For a label per sequence, the steps are pooled: the
masked mean of the last layer, or a learned [CLS] token prepended to the
sequence that gathers what the head needs by attention (BERT, Devlin et al.
2019). The layers are pre-norm (:class:`quanta.models.attention.EncoderLayer`).

References:
    A. Vaswani et al., "Attention is all you need", NeurIPS 2017, arXiv:1706.03762.
    J. Devlin et al., "BERT: pre-training of deep bidirectional transformers for
    language understanding", NAACL 2019, arXiv:1810.04805 (the [CLS] token).
    R. Xiong et al., ICML 2020, arXiv:2002.04745 (pre-norm layers).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.attention import EncoderLayer, LearnedPositions, SinusoidalPositions, masked_mean
from quanta.models.hints import Probability, Size
from quanta.models.recurrent import Output
from quanta.registry import checked


class TransformerEncoder(nn.Module):
    """Transformer encoder: pre-norm multi-head self-attention with positional encodings

    Steps are embedded (a linear map of the features, or a lookup table for
    integer tokens when ``vocabulary`` > 0), get a positional encoding, pass
    ``layers`` pre-norm encoder layers and a final LayerNorm; a linear head
    gives raw outputs (the task owns the loss). Padded steps are masked out
    of every attention, so they never change the real steps' outputs.

    Integer tokens: with ``vocabulary`` = V, ``x`` holds token ids 0 ... V-1
    (as floats or integers; padding may hold anything, the mask removes it).
    Train with ``standardize=False`` so that ids are not rescaled.

    Args:
        in_features: input features per step (ignored for tokens).
        out_features: outputs per sequence or per step.
        dim: width of the embeddings and of every layer; divisible by ``heads``.
        heads: attention heads per layer.
        layers: number of encoder layers.
        feedforward: hidden width of each feed-forward network (customarily 4 ``dim``).
        dropout: dropout on attention weights and residual branches, in [0, 1).
        activation: nonlinearity of the feed-forward networks.
        positions: ``"sinusoidal"`` (fixed, any length), ``"learned"`` (up to
            ``max_length`` steps) or ``"none"`` (a set: order does not matter).
        max_length: the longest sequence learned positions can encode.
        vocabulary: number of distinct tokens when ``x`` holds integer ids; 0 for features.
        pooling: ``"mean"`` (masked mean over real steps) or ``"cls"`` (a learned
            token prepended; its final state is the summary), for ``output="sequence"``.
        output: ``"sequence"`` (one output per sequence) or ``"steps"`` (one per step).

    Shapes:
        - ``x``: ``[N, T, in_features]`` (or ``[N, T]`` for one feature or for tokens);
          ``mask``: ``[N, T]`` bool, True on real steps, or None (all real).
        - output: ``[N, out_features]`` (``"sequence"``) or ``[N, T, out_features]`` (``"steps"``).

    Reference:
        A. Vaswani et al., "Attention is all you need", NeurIPS 2017, arXiv:1706.03762.
    """

    inputs = ("x", "mask")  # the batch arrays forward() takes, in order

    @checked("transformer")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        dim: Size = 64,
        heads: Size = 4,
        layers: Size = 2,
        feedforward: Size = 256,
        dropout: Probability = 0.0,
        activation: Activation = "gelu",
        positions: Annotated[Literal["sinusoidal", "learned", "none"],
                             Field(description="one of sinusoidal, learned, none")] = "sinusoidal",
        max_length: Size = 512,
        vocabulary: Annotated[int, Field(ge=0, description="0 (features) or a positive integer")] = 0,
        pooling: Annotated[Literal["mean", "cls"], Field(description="one of mean, cls")] = "mean",
        output: Annotated[Output, Field(description="one of sequence, steps")] = "sequence",
    ) -> None:
        super().__init__()
        if dim % heads:
            raise UserError(f"transformer: dim ({dim}) must be divisible by heads ({heads})")
        self.in_features, self.out_features = in_features, out_features
        self.dim, self.heads, self.layers, self.feedforward = dim, heads, layers, feedforward
        self.dropout, self.activation = dropout, activation
        self.positions, self.max_length, self.vocabulary = positions, max_length, vocabulary
        self.pooling, self.output = pooling, output

        self.embed = nn.Embedding(vocabulary, dim) if vocabulary else nn.Linear(in_features, dim)
        self.position = {"sinusoidal": lambda: SinusoidalPositions(dim),
                         "learned": lambda: LearnedPositions(dim, max_length),
                         "none": nn.Identity}[positions]()
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02) if pooling == "cls" else None
        self.encoder = nn.ModuleList(EncoderLayer(dim, heads, feedforward, dropout, activation)
                                     for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, out_features)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> TransformerEncoder:
        """A transformer for sequences ``x`` of per-sample shape ``[T, F]`` (or ``[T]``)."""
        x = shapes["x"]
        if len(x) not in (1, 2):
            raise UserError("transformer: inputs must be sequences x[N, T, F] or x[N, T], "
                            f"received per-sample shape {x}")
        if params.get("vocabulary") and len(x) == 2 and x[1] != 1:
            raise UserError(f"transformer: with vocabulary > 0, x must hold one token id per step "
                            f"(x[N, T] or x[N, T, 1]), received per-sample shape {x}")
        return cls(in_features=x[-1] if len(x) == 2 else 1, out_features=out_features, **params)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Step embeddings with positions ``[N, T, dim]`` from features or token ids."""
        if self.vocabulary:
            if x.ndim == 3 and x.shape[2] != 1:
                raise UserError(f"transformer: with vocabulary > 0, x must hold one token id per step, "
                                f"received {x.shape[2]} features per step")
            tokens = (x.squeeze(-1) if x.ndim == 3 else x).long().clamp(0, self.vocabulary - 1)  # [N, T]
            return self.position(self.embed(tokens))  # [N, T, dim]
        if x.ndim == 2:
            x = x.unsqueeze(-1)  # [N, T] -> [N, T, 1]
        return self.position(self.embed(x))  # [N, T, dim]

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Final normalised states ``[N, T', dim]`` and their mask (T' = T + 1 with a [CLS] token first)."""
        h = self.embedding(x)  # [N, T, dim]
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)  # [N, 1 + T, dim]
            if mask is not None:
                mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)  # [N, 1 + T]
        for layer in self.encoder:
            h = layer(h, mask)  # [N, T', dim]
        return self.norm(h), mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs, per sequence ``[N, out_features]`` or per step ``[N, T, out_features]``."""
        h, mask = self.forward_features(x, mask)  # [N, T', dim]
        if self.output == "steps":
            return self.head(h[:, 1:] if self.cls is not None else h)  # [N, T, out_features]
        pooled = h[:, 0] if self.cls is not None else masked_mean(h, mask)  # [N, dim]
        return self.head(pooled)  # [N, out_features]


__all__ = ["TransformerEncoder"]
