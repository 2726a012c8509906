"""Attention building blocks: weights, masks, bias, the encoder layer, positional encodings."""

from __future__ import annotations

import math

import pytest
import torch

from quanta.errors import UserError
from quanta.models.attention import (
    EncoderLayer,
    LearnedPositions,
    MultiHeadAttention,
    SinusoidalPositions,
    attention_bias,
    masked_mean,
    sinusoids,
)

N, T, DIM, HEADS = 3, 6, 16, 4
LENGTHS = torch.tensor([6, 4, 1])


def _mask(lengths: torch.Tensor = LENGTHS, width: int = T) -> torch.Tensor:
    return torch.arange(width)[None, :] < lengths[:, None]  # [N, width]


@pytest.fixture
def attention() -> MultiHeadAttention:
    torch.manual_seed(0)
    return MultiHeadAttention(DIM, HEADS).eval()


def test_weights_sum_to_one_and_ignore_padded_keys(attention: MultiHeadAttention) -> None:
    x, mask = torch.randn(N, T, DIM), _mask()
    weights = attention.weights(x, mask=mask)
    assert weights.shape == (N, HEADS, T, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, HEADS, T))
    assert torch.all(weights.masked_select(~mask[:, None, None, :].expand_as(weights)) == 0)
    assert torch.all(weights[2, :, :, 0] == 1)  # one real key takes all the weight


def test_fused_output_equals_explicit_weights_times_values(attention: MultiHeadAttention) -> None:
    x, mask = torch.randn(N, T, DIM), _mask()
    bias = torch.randn(N, HEADS, T, T)
    weights = attention.weights(x, mask=mask, bias=bias)  # [N, H, T, T]
    values = attention.key_value(x).chunk(2, dim=-1)[1]  # [N, T, DIM]
    values = values.reshape(N, T, HEADS, DIM // HEADS).transpose(1, 2)  # [N, H, T, DIM/H]
    explicit = (weights @ values).transpose(1, 2).reshape(N, T, DIM)
    torch.testing.assert_close(attention(x, mask=mask, bias=bias), attention.project(explicit),
                               atol=1e-5, rtol=1e-4)


def test_padding_content_and_padding_length_do_not_change_real_outputs(attention: MultiHeadAttention) -> None:
    x, mask = torch.randn(N, T, DIM), _mask()
    out = attention(x, mask=mask)
    noisy = torch.where(mask[..., None], x, 100 * torch.randn_like(x))  # garbage in the padding
    longer = torch.cat([noisy, torch.randn(N, 3, DIM)], dim=1)  # and three more padded steps
    out_longer = attention(longer, mask=_mask(LENGTHS, T + 3))
    torch.testing.assert_close(out_longer[:, :T][mask], out[mask], atol=1e-5, rtol=1e-5)


def test_additive_bias_steers_the_weights(attention: MultiHeadAttention) -> None:
    x = torch.randn(N, T, DIM)
    bias = torch.zeros(N, HEADS, T, T)
    bias[..., 2] = -1e4  # every query ignores key 2
    bias[1, 0, :, 3] = 1e4  # head 0 of sample 1 looks at key 3 only
    weights = attention.weights(x, bias=bias)
    assert weights[..., 2].max() < 1e-6
    torch.testing.assert_close(weights[1, 0, :, 3], torch.ones(T))


def test_a_sample_without_real_keys_stays_finite(attention: MultiHeadAttention) -> None:
    x, mask = torch.randn(2, T, DIM), torch.zeros(2, T, dtype=torch.bool)
    mask[0, :3] = True
    assert torch.isfinite(attention(x, mask=mask)).all()
    assert torch.isfinite(attention(x, mask=mask, bias=-1e30 * torch.ones(2, HEADS, T, T))).all()


def test_cross_attention_shapes(attention: MultiHeadAttention) -> None:
    seeds, context = torch.randn(N, 2, DIM), torch.randn(N, T, DIM)
    assert attention(seeds, context=context, mask=_mask()).shape == (N, 2, DIM)
    weights = attention.weights(seeds, context=context, mask=_mask())
    assert weights.shape == (N, HEADS, 2, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, HEADS, 2))


def test_attention_bias_helper() -> None:
    assert attention_bias(None, None, torch.float32) is None
    offset = attention_bias(_mask(), None, torch.float32)
    assert offset.shape == (N, 1, 1, T)
    assert offset[1, 0, 0, 3] == 0 and offset[1, 0, 0, 4] == torch.finfo(torch.float32).min
    combined = attention_bias(_mask(), -torch.ones(N, HEADS, T, T), torch.float32)
    assert torch.isfinite(combined).all()  # min + (-1) is clamped, not -inf


def test_heads_must_divide_the_width() -> None:
    with pytest.raises(UserError, match="divisible by heads"):
        MultiHeadAttention(10, 4)


def test_encoder_layer_is_permutation_equivariant_and_ignores_padding() -> None:
    torch.manual_seed(1)
    layer = EncoderLayer(DIM, HEADS, feedforward=32).eval()
    x, mask = torch.randn(N, T, DIM), _mask()
    out = layer(x, mask)
    assert out.shape == (N, T, DIM)
    order = torch.randperm(T)
    full = torch.ones(N, T, dtype=torch.bool)
    torch.testing.assert_close(layer(x[:, order], full), layer(x, full)[:, order], atol=1e-5, rtol=1e-5)
    noisy = torch.where(mask[..., None], x, torch.randn_like(x))
    torch.testing.assert_close(layer(noisy, mask)[mask], out[mask], atol=1e-5, rtol=1e-5)


def test_encoder_layer_is_pre_norm() -> None:
    """With zero output projections both branches vanish: a pre-norm layer is then the identity."""
    layer = EncoderLayer(DIM, HEADS, feedforward=32)
    for linear in (layer.attention.project, layer.feedforward[-1]):
        torch.nn.init.zeros_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
    x = torch.randn(N, T, DIM)
    torch.testing.assert_close(layer(x), x)


def test_sinusoids() -> None:
    encoding = sinusoids(50, 8)
    assert encoding.shape == (50, 8)
    torch.testing.assert_close(encoding[0], torch.tensor([0.0, 1.0] * 4))
    # each (sin, cos) pair lies on the unit circle; pair 0 turns by one radian per step
    torch.testing.assert_close(encoding[:, 0::2] ** 2 + encoding[:, 1::2] ** 2, torch.ones(50, 4))
    torch.testing.assert_close(encoding[:, 0], torch.sin(torch.arange(50.0)))
    # the slowest pair of 8 features turns by 10000^(-6/8) = 1e-3 radians per step
    assert math.isclose(encoding[1, 6].item(), math.sin(1e-3), rel_tol=1e-4)
    assert sinusoids(5, 7).shape == (5, 7)  # odd widths work
    x = torch.zeros(2, 5, 8)
    torch.testing.assert_close(SinusoidalPositions(8)(x), sinusoids(5, 8).expand(2, 5, 8))


def test_learned_positions() -> None:
    positions = LearnedPositions(8, max_length=5)
    assert positions(torch.zeros(2, 5, 8)).shape == (2, 5, 8)
    assert positions.embedding.requires_grad
    with pytest.raises(UserError, match="max_length = 5"):
        positions(torch.zeros(2, 6, 8))


def test_masked_mean() -> None:
    x = torch.arange(12.0).reshape(2, 3, 2)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[1.0, 2.0], [0.0, 0.0]]))
    torch.testing.assert_close(masked_mean(x, None), x.mean(1))
