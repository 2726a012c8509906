"""Sequence to sequence: a GRU encoder and a GRU decoder joined by additive attention.

An encoder-decoder maps an input sequence to an output sequence of another
length (Sutskever et al. 2014; Cho et al. 2014): the encoder reads the input
into one state per step, the decoder writes the output one token at a time,
each token conditioned on the tokens before it. Squeezing the whole input
into the encoder's last state is a bottleneck; Bahdanau, Cho and Bengio (2015)
let the decoder look back at every encoder state instead. Before writing
token t, the decoder scores each input step j with a small network,

    e_tj = v · tanh(W s_{t-1} + U h_j),    α_tj = softmax_j(e_tj),    c_t = Σ_j α_tj h_j,

so that it can, for instance, attend to input step L-1-t while reversing a
sequence. The context ``c_t``, the previous token's embedding and the state
``s_{t-1}`` give the next state ``s_t``; a linear layer of ``[s_t, c_t,
embedding]`` gives the logits of token t.

Teacher forcing. During training the decoder is fed the *true* previous
token, which the data set provides as an array ``decoder_input`` int64[N,
T_out]: ``decoder_input[:, 0]`` is the start symbol (id = ``out_features``)
and ``decoder_input[:, t] = y[:, t-1]`` after it; :func:`decoder_inputs`
builds it from targets ``y``. The model's ``inputs`` are therefore ``("x",
"mask", "decoder_input")`` and quanta's metrics (loss, accuracy) are
teacher-forced. At inference the true tokens are unknown:
:meth:`Seq2Seq.greedy_decode` feeds back the most probable token of each step.

References:
    D. Bahdanau, K. Cho and Y. Bengio, "Neural machine translation by jointly
    learning to align and translate", ICLR 2015, arXiv:1409.0473.
    I. Sutskever, O. Vinyals and Q. V. Le, "Sequence to sequence learning with
    neural networks", NeurIPS 2014, arXiv:1409.3215.
    K. Cho et al., EMNLP 2014, arXiv:1406.1078 (GRU encoder-decoder).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.hints import Probability, Size
from quanta.models.recurrent import MaskedRecurrence
from quanta.registry import checked


def decoder_inputs(y: np.ndarray, start: int) -> np.ndarray:
    """Teacher-forcing inputs from targets: ``start``, then the targets shifted right by one.

    Shapes: ``y`` int[N, T_out] -> int64[N, T_out].
    """
    y = np.asarray(y, dtype=np.int64)
    return np.concatenate([np.full((len(y), 1), start, np.int64), y[:, :-1]], axis=1)  # [N, T_out]


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: ``e_j = v · tanh(W query + U key_j)``, softmax over real keys.

    Args:
        query_features: size of the query (the decoder state).
        key_features: size of each key (an encoder state).
        hidden: size of the tanh layer.

    Shapes:
        - :meth:`project_keys`: ``keys`` ``[N, T, key_features]`` -> ``[N, T, hidden]``
          (done once per sequence, not once per decoded token).
        - :meth:`forward`: ``query`` ``[N, query_features]``, projected keys ``[N, T, hidden]``,
          ``values`` ``[N, T, V]``, ``mask`` ``[N, T]`` bool or None -> context ``[N, V]``
          and weights ``[N, T]`` (zero on padded keys, summing to one).
    """

    def __init__(self, query_features: int, key_features: int, hidden: int = 64) -> None:
        super().__init__()
        self.query = nn.Linear(query_features, hidden, bias=False)
        self.key = nn.Linear(key_features, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)  # [N, T, hidden]

    def forward(self, query: torch.Tensor, projected_keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        energy = self.score(torch.tanh(self.query(query)[:, None, :] + projected_keys)).squeeze(-1)  # [N, T]
        if mask is not None:
            energy = energy.masked_fill(~mask.bool(), torch.finfo(energy.dtype).min)
        weights = energy.softmax(dim=-1)  # [N, T]
        context = (weights.unsqueeze(-1) * values).sum(dim=1)  # [N, V]
        return context, weights


class Seq2Seq(nn.Module):
    """Encoder-decoder GRU with additive (Bahdanau) attention

    A (bidirectional, stacked) GRU encodes the input steps; the initial
    decoder state is ``tanh`` of a linear map of the encoder's final states;
    a GRU cell decodes one token per output step with additive attention
    over the real input steps. Outputs are raw logits over ``out_features``
    token classes (the ``multiclass`` task with targets ``y[N, T_out]`` and an
    optional ``target_mask``). See the module docstring for teacher forcing.

    Args:
        in_features: input features per step.
        out_features: number of output token classes; id ``out_features`` in
            ``decoder_input`` is the start symbol.
        hidden: state size of the encoder (per direction) and of the decoder.
        embedding: size of the embeddings of the previous output token.
        attention: size of the additive attention's tanh layer.
        layers: stacked encoder layers.
        bidirectional: read the input in both directions (Bahdanau et al. do).
        dropout: dropout between encoder layers and on the decoder's output features, in [0, 1).

    Shapes:
        - ``x``: ``[N, T_in, in_features]`` (or ``[N, T_in]``); ``mask``: ``[N, T_in]`` bool,
          True on real steps, which come first; ``decoder_input``: int ``[N, T_out]``.
        - output: logits ``[N, T_out, out_features]``.

    Reference:
        D. Bahdanau, K. Cho and Y. Bengio, ICLR 2015, arXiv:1409.0473.
    """

    inputs = ("x", "mask", "decoder_input")  # the batch arrays forward() takes, in order

    @checked("seq2seq")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 2,
        hidden: Size = 64,
        embedding: Size = 32,
        attention: Size = 64,
        layers: Size = 1,
        bidirectional: bool = True,
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.hidden, self.embedding, self.attention = hidden, embedding, attention
        self.layers, self.bidirectional, self.dropout = layers, bidirectional, dropout

        self.encoder = MaskedRecurrence(in_features, hidden, "gru", layers, bidirectional, dropout)
        encoded = self.encoder.out_features
        self.initial_state = nn.Linear(encoded, hidden)
        self.token_embedding = nn.Embedding(out_features + 1, embedding)  # + the start symbol
        self.align = AdditiveAttention(hidden, encoded, attention)
        self.decoder = nn.GRUCell(embedding + encoded, hidden)
        self.output_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden + encoded + embedding, out_features)

    @property
    def start(self) -> int:
        """The id of the start symbol fed before the first output token."""
        return self.out_features

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> Seq2Seq:
        """A seq2seq model for inputs ``x`` ``[T_in, F]`` and teacher-forcing ``decoder_input`` ``[T_out]``."""
        if "decoder_input" not in shapes:
            raise UserError("seq2seq: the data set needs an array 'decoder_input' int64[N, T_out] (the start "
                            "symbol, then the targets shifted right; quanta.models.seq2seq.decoder_inputs)")
        x = shapes["x"]
        if len(x) not in (1, 2):
            raise UserError(f"seq2seq: inputs must be sequences x[N, T, F] or x[N, T], received per-sample shape {x}")
        return cls(in_features=x[-1] if len(x) == 2 else 1, out_features=out_features, **params)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder states ``[N, T_in, E]``, their attention projections ``[N, T_in, A]``, initial state ``[N, H]``."""
        if x.ndim == 2:
            x = x.unsqueeze(-1)  # [N, T] -> [N, T, 1]
        states, final = self.encoder(x, mask)  # [N, T_in, E], [N, E]
        return states, self.align.project_keys(states), torch.tanh(self.initial_state(final))

    def decode(self, x: torch.Tensor, mask: torch.Tensor | None, decoder_input: torch.Tensor | None,
               steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[N, steps, out_features]`` and attention weights ``[N, steps, T_in]``.

        With ``decoder_input`` the true previous tokens are fed (teacher forcing);
        with None, each step's most probable token is fed to the next (greedy).
        """
        states, keys, s = self.encode(x, mask)
        token = torch.full((x.shape[0],), self.start, dtype=torch.long, device=x.device)  # [N]
        logits, weights = [], []
        for t in range(steps):
            if decoder_input is not None:
                token = decoder_input[:, t].long().clamp(0, self.start)  # [N]
            embedded = self.token_embedding(token)  # [N, embedding]
            context, alpha = self.align(s, keys, states, mask)  # [N, E], [N, T_in]
            s = self.decoder(torch.cat([embedded, context], dim=-1), s)  # [N, H]
            features = self.output_dropout(torch.cat([s, context, embedded], dim=-1))  # [N, H + E + embedding]
            step_logits = self.head(features)  # [N, out_features]
            token = step_logits.argmax(dim=-1)
            logits.append(step_logits)
            weights.append(alpha)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)  # [N, steps, C], [N, steps, T_in]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, decoder_input: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``[N, T_out, out_features]``."""
        return self.decode(x, mask, decoder_input, decoder_input.shape[1])[0]

    @torch.no_grad()
    def greedy_decode(self, x: torch.Tensor, mask: torch.Tensor | None, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Free-running decoding: tokens ``[N, steps]`` and attention weights ``[N, steps, T_in]``."""
        logits, weights = self.decode(x, mask, None, steps)
        return logits.argmax(dim=-1), weights


__all__ = ["AdditiveAttention", "Seq2Seq", "decoder_inputs"]
