"""Recurrent networks: a simple RNN, the GRU and the LSTM, stacked, bidirectional, masked.

A recurrent network reads a sequence one step at a time and carries a state
``h_t = f(h_{t-1}, x_t)`` from step to step, so that what it outputs at step t
can depend on everything it has seen. The simple (Elman) RNN updates the
state with ``tanh(W x_t + U h_{t-1} + b)``; its gradients through many steps
are products of many Jacobians and vanish or explode (Bengio et al. 1994),
so it forgets what it saw a few steps ago. The LSTM (Hochreiter and
Schmidhuber 1997) adds a cell state updated additively through input, forget
and output gates, and the GRU (Cho et al. 2014) merges these into update and
reset gates: gradients flow through the gates' near-identity paths, and the
networks remember over long lags. The palindrome task of the lectures shows
it: a gated cell compares the first and last symbols of a sequence of ten,
a plain RNN of the same size struggles.

Variable lengths. Sequences are right-padded to a common length T, with a
mask ``[N, T]`` that is True on the real steps (valid steps first). Padding
never changes a result: a forward-running layer's output at step t depends on
steps <= t only, so padding at the end cannot reach the real steps; the
backward-running direction of a bidirectional layer reads each sequence
reversed *within its own length*, so that it too starts at the last real
step. This is exact, like ``pack_padded_sequence``, but needs no lengths on
the host, hence no device synchronisation per batch.

References:
    J. L. Elman, "Finding structure in time", Cogn. Sci. 14 (1990) 179.
    Y. Bengio, P. Simard and P. Frasconi, "Learning long-term dependencies with
    gradient descent is difficult", IEEE Trans. Neural Netw. 5 (1994) 157.
    S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Comput.
    9 (1997) 1735.
    K. Cho et al., "Learning phrase representations using RNN encoder-decoder
    for statistical machine translation", EMNLP 2014, arXiv:1406.1078 (GRU).
    M. Schuster and K. K. Paliwal, "Bidirectional recurrent neural networks",
    IEEE Trans. Signal Process. 45 (1997) 2673.
    R. Jozefowicz, W. Zaremba and I. Sutskever, "An empirical exploration of
    recurrent network architectures", ICML 2015 (forget-gate bias 1).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.attention import masked_mean
from quanta.models.hints import Probability, Size
from quanta.registry import checked

Cell = Literal["rnn", "gru", "lstm"]
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
Output = Literal["sequence", "steps"]


def lengths_of(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """Number of real steps per sequence ``[N]`` (all T steps when there is no mask)."""
    if mask is None:
        return torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
    return mask.sum(dim=1).long()


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence's first L steps in reverse order; the padding stays where it is.

    ``out[n, t] = x[n, L_n - 1 - t]`` for t < L_n, ``x[n, t]`` otherwise; applying
    it twice gives ``x`` back.

    Shapes: ``x`` ``[N, T, F]``, ``lengths`` ``[N]`` -> ``[N, T, F]``.
    """
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # [1, T]
    source = lengths[:, None] - 1 - steps  # [N, T]
    source = torch.where(source >= 0, source, steps)  # padding maps to itself
    return x.gather(1, source[..., None].expand(-1, -1, x.shape[2]))  # [N, T, F]


def open_forget_gates(module: nn.Module) -> None:
    """Start every LSTM inside ``module`` with forget-gate bias 1: remember by default.

    PyTorch initialises all gate biases near zero, so a fresh LSTM forgets
    half of its cell state at every step; a bias of 1 keeps ~73 % and lets
    gradients reach back further from the start of training (Gers et al.
    2000; Jozefowicz, Zaremba and Sutskever, ICML 2015). PyTorch orders the
    gates input, forget, cell, output; the two bias vectors add up, so one
    gets 1 and the other 0.
    """
    for lstm in module.modules():
        if isinstance(lstm, nn.LSTM):
            hidden = lstm.hidden_size
            for name, value in lstm.named_parameters():
                if name.startswith("bias_"):
                    with torch.no_grad():
                        value[hidden:2 * hidden] = 1.0 if name.startswith("bias_ih") else 0.0


class MaskedRecurrence(nn.Module):
    """Stacked, optionally bidirectional recurrent layers over right-padded sequences.

    The building block of :class:`RecurrentNet` and of the encoder of
    :class:`quanta.models.seq2seq.Seq2Seq`. Each layer has one recurrent
    module per direction; a bidirectional layer concatenates the forward and
    backward states of each step before the next layer, with dropout between
    layers (not after the last). LSTM forget gates start open
    (:func:`open_forget_gates`).

    Args:
        in_features: input features per step.
        hidden: state size per direction.
        cell: ``"rnn"`` (tanh), ``"gru"`` or ``"lstm"``.
        layers: number of stacked layers.
        bidirectional: add a backward-running direction to every layer.
        dropout: dropout on the inputs of layers 2 ... ``layers``.

    Shapes:
        - ``x``: ``[N, T, in_features]``; ``mask``: ``[N, T]`` bool (valid steps first) or None.
        - returns ``steps`` ``[N, T, D * hidden]`` (zero at padded steps) and ``final``
          ``[N, D * hidden]``: the forward state after the last real step, and for
          D = 2 the backward state after reading back to step 0.
    """

    def __init__(self, in_features: int, hidden: int = 64, cell: str = "lstm", layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.directions = 2 if bidirectional else 1
        self.out_features = self.directions * hidden
        self.layers = nn.ModuleList()
        width = in_features
        for _ in range(layers):
            self.layers.append(nn.ModuleList(
                CELLS[cell](width, hidden, batch_first=True) for _ in range(self.directions)))
            width = self.out_features
        self.dropout = nn.Dropout(dropout)
        if cell == "lstm":
            open_forget_gates(self)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths_of(mask, x)  # [N]
        keep = None if mask is None else mask[..., None].to(x.dtype)  # [N, T, 1]
        last = (lengths - 1).clamp_min(0)  # index of the last real step; 0 for an empty sequence
        final: list[torch.Tensor] = []
        for i, directions in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            forward_steps, _ = directions[0](x)  # [N, T, H]
            outputs = [forward_steps]
            if self.directions == 2:
                backward_steps, _ = directions[1](reverse_within_length(x, lengths))  # [N, T, H], reversed frame
                outputs.append(reverse_within_length(backward_steps, lengths))
            x = torch.cat(outputs, dim=-1)  # [N, T, D*H]
            if keep is not None:
                x = x * keep  # padded steps carry zeros into the next layer and the output
            if i == len(self.layers) - 1:
                rows = torch.arange(x.shape[0], device=x.device)
                final.append(forward_steps[rows, last])  # [N, H]
                if self.directions == 2:
                    final.append(outputs[1][:, 0])  # [N, H]: the backward pass ends at step 0
        return x, torch.cat(final, dim=-1)  # [N, T, D*H], [N, D*H]


class RecurrentNet(nn.Module):
    """Recurrent network (simple RNN, GRU or LSTM): stacked, optionally bidirectional, masked

    The recurrent stack (:class:`MaskedRecurrence`) reads the steps of each
    sequence; a linear layer turns states into raw outputs (logits or
    values: the task owns the loss). With ``output="sequence"`` there is one
    output per sequence, from the states pooled over its real steps:

    - ``pooling="last"``: the state after the last real step (and, when
      bidirectional, the backward state after reading back to the first
      step), i.e. the summary of the whole sequence;
    - ``"mean"`` / ``"max"``: the mean or maximum over the real steps of the
      top layer's states.

    With ``output="steps"`` there is one output per step (per-step tagging,
    the copy task); padded steps get outputs too, which a ``target_mask``
    keeps out of loss and metrics.

    Args:
        in_features: input features per step (``x[..., -1]``; 1 for ``x[N, T]``).
        out_features: outputs per sequence or per step.
        cell: ``"rnn"`` (Elman, tanh), ``"gru"`` or ``"lstm"``.
        hidden: state size per direction.
        layers: stacked recurrent layers.
        bidirectional: read each sequence in both directions.
        dropout: dropout between stacked layers (needs ``layers`` >= 2), in [0, 1).
        output: ``"sequence"`` or ``"steps"`` (see above).
        pooling: ``"last"``, ``"mean"`` or ``"max"``, for ``output="sequence"``.

    Shapes:
        - ``x``: ``[N, T, in_features]`` (or ``[N, T]`` for one feature);
          ``mask``: ``[N, T]`` bool, True on real steps, which come first; None: all real.
        - output: ``[N, out_features]`` (``"sequence"``) or ``[N, T, out_features]`` (``"steps"``).

    References:
        S. Hochreiter and J. Schmidhuber, Neural Comput. 9 (1997) 1735 (LSTM);
        K. Cho et al., arXiv:1406.1078 (GRU); J. L. Elman, Cogn. Sci. 14 (1990) 179.
    """

    inputs = ("x", "mask")  # the batch arrays forward() takes, in order

    @checked("rnn")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        cell: Annotated[Cell, Field(description="one of rnn, gru, lstm")] = "lstm",
        hidden: Size = 64,
        layers: Size = 1,
        bidirectional: bool = False,
        dropout: Probability = 0.0,
        output: Annotated[Output, Field(description="one of sequence, steps")] = "sequence",
        pooling: Annotated[Literal["last", "mean", "max"], Field(description="one of last, mean, max")] = "last",
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.cell, self.hidden, self.layers = cell, hidden, layers
        self.bidirectional, self.dropout = bidirectional, dropout
        self.output, self.pooling = output, pooling

        self.recurrence = MaskedRecurrence(in_features, hidden, cell, layers, bidirectional, dropout)
        self.head = nn.Linear(self.recurrence.out_features, out_features)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> RecurrentNet:
        """A recurrent network for sequences ``x`` of per-sample shape ``[T, F]`` (or ``[T]``)."""
        x = shapes["x"]
        if len(x) not in (1, 2):
            raise UserError(f"rnn: inputs must be sequences x[N, T, F] or x[N, T], received per-sample shape {x}")
        return cls(in_features=x[-1] if len(x) == 2 else 1, out_features=out_features, **params)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs, per sequence ``[N, out_features]`` or per step ``[N, T, out_features]``."""
        if x.ndim == 2:
            x = x.unsqueeze(-1)  # [N, T] -> [N, T, 1]
        steps, final = self.recurrence(x, mask)  # [N, T, D*H], [N, D*H]
        if self.output == "steps":
            return self.head(steps)  # [N, T, out_features]
        if self.pooling == "last":
            pooled = final
        elif self.pooling == "mean":
            pooled = masked_mean(steps, mask)  # [N, D*H]
        else:
            if mask is not None:
                steps = steps.masked_fill(~mask[..., None].bool(), torch.finfo(steps.dtype).min)
            pooled = steps.amax(dim=1)  # [N, D*H]
        return self.head(pooled)  # [N, out_features]


__all__ = ["CELLS", "MaskedRecurrence", "RecurrentNet", "lengths_of", "open_forget_gates", "reverse_within_length"]
