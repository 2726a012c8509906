"""Encoder-decoder with additive attention: shapes, masks, teacher forcing, greedy decoding, learning."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.seq2seq import AdditiveAttention, Seq2Seq, decoder_inputs

LENGTHS = torch.tensor([6, 2, 1, 4])


def _batch(width: int = 6, features: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(len(LENGTHS), width, features, generator=torch.Generator().manual_seed(0))
    mask = torch.arange(width)[None, :] < LENGTHS[:, None]  # [N, width]
    return x * mask[..., None], mask


def _small(**kwargs) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(**{"in_features": 3, "out_features": 5, "hidden": 8, "embedding": 4, "attention": 8,
                      **kwargs}).eval()


def reversal(size: int, max_length: int, vocabulary: int, seed: int):
    """Sequences of lengths 1 ... max_length and their reverses: one-hot x, mask, targets y."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_length + 1, size)
    mask = np.arange(max_length)[None, :] < lengths[:, None]  # [N, T]
    symbols = np.where(mask, rng.integers(0, vocabulary, (size, max_length)), 0)
    source = np.maximum(lengths[:, None] - 1 - np.arange(max_length)[None, :], 0)  # [N, T]
    y = np.where(mask, np.take_along_axis(symbols, source, axis=1), 0)  # reversed within each length
    x = np.eye(vocabulary, dtype=np.float32)[symbols] * mask[..., None]  # [N, T, V]
    return x, y, mask


@pytest.mark.parametrize(("layers", "bidirectional"), [(1, True), (1, False), (2, True)])
def test_output_shapes_and_decoding(layers: int, bidirectional: bool) -> None:
    model = _small(layers=layers, bidirectional=bidirectional)
    x, mask = _batch()
    decoder_input = torch.randint(0, 6, (4, 9))  # 9 output steps from 6 input steps
    assert model(x, mask, decoder_input).shape == (4, 9, 5)
    tokens, weights = model.greedy_decode(x, mask, steps=3)
    assert tokens.shape == (4, 3) and tokens.dtype == torch.long
    assert weights.shape == (4, 3, 6)


def test_attention_weights_sum_to_one_and_ignore_padded_input_steps() -> None:
    model = _small()
    x, mask = _batch()
    _, weights = model.greedy_decode(x, mask, steps=4)  # [N, steps, T_in]
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 4))
    assert torch.all(weights.masked_select(~mask[:, None, :].expand_as(weights)) == 0)
    attention = AdditiveAttention(8, 6, hidden=5)
    keys = torch.randn(4, 6, 6)
    context, alpha = attention(torch.randn(4, 8), attention.project_keys(keys), keys, mask)
    assert context.shape == (4, 6) and alpha.shape == (4, 6)
    torch.testing.assert_close(context, (alpha[..., None] * keys).sum(1))


def test_padding_of_the_input_never_changes_the_output() -> None:
    model = _small()
    x, mask = _batch(6)
    decoder_input = torch.randint(0, 6, (4, 5))
    longer_mask = torch.arange(10)[None, :] < LENGTHS[:, None]
    longer = torch.where(longer_mask[..., None], torch.cat([x, torch.zeros(4, 4, 3)], dim=1), torch.randn(4, 10, 3))
    torch.testing.assert_close(model(longer, longer_mask, decoder_input), model(x, mask, decoder_input),
                               atol=1e-6, rtol=1e-5)


def test_greedy_decoding_is_teacher_forcing_with_its_own_tokens() -> None:
    """Fed back its own argmax tokens as decoder_input, the teacher-forced pass reproduces greedy decoding."""
    model = _small()
    x, mask = _batch()
    tokens, _ = model.greedy_decode(x, mask, steps=5)
    own = decoder_inputs(tokens.numpy(), start=model.start)
    logits = model(x, mask, torch.from_numpy(own))
    assert torch.equal(logits.argmax(-1), tokens)


def test_decoder_inputs_shift_the_targets_right() -> None:
    y = np.array([[3, 1, 2], [0, 0, 4]])
    assert decoder_inputs(y, start=5).tolist() == [[5, 3, 1], [5, 0, 0]]


def test_for_data_needs_decoder_inputs() -> None:
    model = Seq2Seq.for_data({"x": (6, 3), "mask": (6,), "decoder_input": (4,)}, out_features=7, hidden=8)
    assert (model.in_features, model.out_features, model.start) == (3, 7, 7)
    with pytest.raises(UserError, match="decoder_input"):
        Seq2Seq.for_data({"x": (6, 3), "mask": (6,)}, out_features=7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"hidden": 0}, "hidden must be a positive integer"), ({"attention": -2}, "attention must be"),
     ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\); received 1.0")],
)
def test_bad_arguments_are_one_line_user_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        Seq2Seq(3, **kwargs)


def test_registry_entry() -> None:
    assert MODELS.get("seq2seq") is Seq2Seq
    assert MODELS.describe()["seq2seq"] == inspect.getdoc(Seq2Seq).splitlines()[0]
    assert Seq2Seq.inputs == ("x", "mask", "decoder_input")


def test_seq2seq_learns_to_reverse_sequences(tmp_path, one_thread: None) -> None:
    """Reverse sequences of 1-6 symbols out of 6, trained with teacher forcing through quanta.fit.

    Measured on 2000 sequences, 15 epochs (~20-25 s on a busy machine): teacher-forced test
    accuracy per token 0.980; greedy decoding of 1000 new sequences 0.977 per token, 0.963 per
    sequence (a unidirectional encoder: 0.986 and 0.977 per token).
    """
    x, y, mask = reversal(2000, max_length=6, vocabulary=6, seed=0)
    data = from_arrays(x, y, mask=mask, target_mask=mask, decoder_input=decoder_inputs(y, start=6))
    run = quanta.fit("seq2seq", data, task="multiclass", params={"hidden": 32, "embedding": 16, "attention": 32},
                     epochs=15, batch_size=64, lr=3e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.93, run.metrics["test"]

    model = run.estimator.model.eval()
    x, y, mask = reversal(1000, max_length=6, vocabulary=6, seed=99)
    inputs = run.estimator.transform.apply(from_arrays(x, y, mask=mask)).x  # the saved standardisation
    tokens, weights = model.greedy_decode(torch.from_numpy(inputs), torch.from_numpy(mask), steps=6)
    correct = tokens.numpy() == y
    assert correct[mask].mean() >= 0.93
    # the attention follows the anti-diagonal: output step t of a sequence of length L looks
    # at input step L-1-t, where its symbol is, or at L-t, the one it has just emitted
    # (measured: 95 % of the peaks; an encoder state also carries its neighbours' symbols)
    source = mask.sum(1)[:, None] - 1 - np.arange(6)[None, :]  # [N, T_out]
    offset = weights.argmax(-1).numpy() - source
    assert np.isin(offset[mask], (-1, 0, 1)).mean() >= 0.8
