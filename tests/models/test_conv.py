"""Convolution building blocks: the lecture examples, output sizes, pooling, separable convolutions."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.conv import (
    ConvBlock,
    GlobalPool,
    StochasticPool,
    conv_layer,
    norm_layer,
    output_shape,
    output_size,
    pooling,
)


def _fixed(block: ConvBlock, kernel: list) -> ConvBlock:
    """The block's convolution with a given kernel and no bias: a pure linear filter."""
    with torch.no_grad():
        block.conv.weight.copy_(torch.tensor(kernel, dtype=torch.float32).reshape(block.conv.weight.shape))
    assert block.conv.bias is None
    return block


# -- the lecture examples ----------------------------------------------------------


def test_lecture_1d_convolution_is_a_discrete_derivative() -> None:
    # Convention: deep-learning "convolution" is cross-correlation, y[i] = sum_k w[k] x[i + k]
    # (the kernel is not flipped). With w = (-1, 1) that is y[i] = x[i + 1] - x[i], the discrete
    # derivative: it is 1 on the ramp and 0 where the signal is flat. A "valid" convolution
    # (no padding) of 11 samples with a 2-tap kernel gives 10 outputs.
    block = _fixed(ConvBlock(1, 1, dims=1, kernel_size=2, padding=0, norm="none", activation="identity",
                             bias=False), [-1.0, 1.0])
    x = torch.tensor([0, 0, 0, 0, 1, 2, 3, 4, 4, 4, 4], dtype=torch.float32).view(1, 1, 11)  # [N, C, L]
    y = block(x).flatten().tolist()
    assert y == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]


def test_lecture_2d_convolution_of_a_5x5_image_with_a_3x3_kernel() -> None:
    # The textbook example: the kernel is symmetric, so convolution and cross-correlation agree.
    # The top-left output is the sum of the image values under the kernel's ones: 1+1+1+1+0 = 4.
    image = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    kernel = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    block = _fixed(ConvBlock(1, 1, kernel_size=3, padding=0, norm="none", activation="identity", bias=False),
                   kernel)
    y = block(torch.tensor(image, dtype=torch.float32).view(1, 1, 5, 5))
    assert y.shape == (1, 1, 3, 3)
    assert y[0, 0].tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


# -- output sizes --------------------------------------------------------------------


def test_output_size_formula_matches_torch_convolutions() -> None:
    checked = 0
    for n, k, s, p, d in itertools.product((5, 8, 11), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)):
        if n + 2 * p - d * (k - 1) - 1 < 0:  # the kernel does not fit
            continue
        expected = (n + 2 * p - d * (k - 1) - 1) // s + 1  # floor((n + 2p - d(k-1) - 1) / s) + 1
        assert output_size(n, k, s, p, d) == expected
        conv = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)
        assert conv(torch.zeros(1, 1, n)).shape[-1] == expected, (n, k, s, p, d)
        checked += 1
    assert checked > 150


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_output_size_formula_matches_torch_pooling(ceil_mode: bool) -> None:
    for n, k, s, p in itertools.product((1, 2, 5, 7, 8), (2, 3), (1, 2, 3), (0, 1)):
        if p > k // 2 or n + 2 * p < k and not ceil_mode:
            continue
        pool = nn.MaxPool1d(k, stride=s, padding=p, ceil_mode=ceil_mode)
        try:
            actual = pool(torch.zeros(1, 1, n)).shape[-1]
        except RuntimeError:  # torch refuses: the output would be empty
            assert output_size(n, k, s, p, ceil_mode=ceil_mode) < 1
            continue
        assert output_size(n, k, s, p, ceil_mode=ceil_mode) == actual, (n, k, s, p)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize(("n", "kernel", "stride", "dilation"), [
    (8, 3, 1, 1), (9, 3, 2, 1), (10, 5, 2, 1), (10, 3, 3, 2), (7, 4, 1, 1), (12, 3, 1, 3),
])
def test_same_padding_keeps_the_size_or_divides_it_by_the_stride(n, kernel, stride, dilation) -> None:
    block = ConvBlock(2, 3, dims=2, kernel_size=kernel, stride=stride, dilation=dilation)
    out = block(torch.randn(1, 2, n, n + 1))
    expected = output_shape((n, n + 1), kernel, stride, "same", dilation)
    assert out.shape == (1, 3, *expected)
    assert expected == (-(-n // stride), -(-(n + 1) // stride))  # ceil(n / s)


def test_output_shape_per_axis() -> None:
    assert output_shape((32, 32), 5) == (28, 28)
    assert output_shape((30, 32, 32), (3, 5, 5), (1, 2, 2), (1, 2, 2)) == (30, 16, 16)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_block_in_every_dimension(dims: int) -> None:
    block = ConvBlock(3, 5, dims=dims, kernel_size=3, stride=2, padding=1, dilation=1)
    x = torch.randn(2, 3, *([9] * dims))
    assert block(x).shape == (2, 5, *([5] * dims))
    assert isinstance(block.conv, conv_layer(dims))


# -- separable convolutions, norms, errors -------------------------------------------


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_depthwise_separable_has_fewer_weights_and_the_same_output_shape(dims: int) -> None:
    full = ConvBlock(16, 32, dims=dims, kernel_size=3, norm="none")
    separable = ConvBlock(16, 32, dims=dims, kernel_size=3, norm="none", separable=True)
    x = torch.randn(2, 16, *([7] * dims))
    assert full(x).shape == separable(x).shape == (2, 32, *([7] * dims))
    count = sum(p.numel() for p in separable.parameters())
    assert count == 3**dims * 16 + 16 * 32 + 32  # depthwise + pointwise weights + bias
    assert count < sum(p.numel() for p in full.parameters()) == 3**dims * 16 * 32 + 32


@pytest.mark.parametrize("norm", ["none", "batch", "group", "layer"])
def test_norms(norm: str) -> None:
    block = ConvBlock(4, 6, norm=norm)
    assert block(torch.randn(3, 4, 5, 5)).shape == (3, 6, 5, 5)
    assert (block.conv.bias is None) == (norm != "none")  # a norm's shift replaces the bias
    assert isinstance(norm_layer("group", 2, 6), nn.GroupNorm) and norm_layer("group", 2, 6).num_groups == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dims": 4}, "dims must be 1, 2 or 3"),
    ({"padding": -1}, "padding must be 'same' or a non-negative integer"),
    ({"kernel_size": 2, "stride": 2}, "padding 'same' with stride 2 needs an odd kernel_size"),
    ({"norm": "instance"}, "norm must be one of none, batch, group, layer"),
    ({"activation": "rleu"}, "unknown activation 'rleu'"),
    ({"kernel_size": 0}, "kernel_size must be a positive integer"),
])
def test_bad_arguments_are_user_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        ConvBlock(1, 1, **kwargs)


# -- pooling ---------------------------------------------------------------------------


def test_stochastic_pooling_samples_a_window_value_in_training() -> None:
    torch.manual_seed(0)
    pool = StochasticPool(dims=2, kernel_size=2).train()
    x = torch.rand(4, 3, 6, 6)
    y = pool(x)
    assert y.shape == (4, 3, 3, 3)
    windows = x.unfold(2, 2, 2).unfold(3, 2, 2).flatten(-2)  # [N, C, 3, 3, 4]
    assert torch.all((windows == y.unsqueeze(-1)).any(-1))  # each output is one of its window's values


def test_stochastic_pooling_picks_values_in_proportion_to_their_size() -> None:
    torch.manual_seed(0)
    pool = StochasticPool(dims=1, kernel_size=4).train()
    x = torch.tensor([0.0, 1.0, 3.0, 0.0]).repeat(20_000, 1, 1)  # [N, 1, 4]: p = (0, 1/4, 3/4, 0)
    picked = pool(x).flatten()
    assert set(picked.unique().tolist()) <= {1.0, 3.0}  # zero activations are never drawn
    assert (picked == 3.0).float().mean().item() == pytest.approx(0.75, abs=0.015)


def test_stochastic_pooling_at_evaluation_is_the_probability_weighted_mean() -> None:
    pool = StochasticPool(dims=2, kernel_size=2).eval()
    x = torch.tensor([[1.0, 3.0], [0.0, 4.0]]).view(1, 1, 2, 2)
    # p = (1, 3, 0, 4) / 8: output = (1 + 9 + 0 + 16) / 8
    assert pool(x).item() == pytest.approx(26 / 8)
    assert pool(torch.zeros(1, 1, 2, 2)).item() == 0.0  # an empty window: no division by zero
    x = torch.rand(2, 3, 4, 6, 4)
    pool3 = StochasticPool(dims=3, kernel_size=2).eval()
    windows = x.unfold(2, 2, 2).unfold(3, 2, 2).unfold(4, 2, 2).flatten(-3)  # [N, C, 2, 3, 2, 8]
    expected = (windows**2).sum(-1) / windows.sum(-1)
    assert torch.allclose(pool3(x), expected, atol=1e-6)


def test_stochastic_pooling_passes_gradients_and_keeps_partial_windows() -> None:
    pool = StochasticPool(dims=2, kernel_size=2, ceil_mode=True).train()
    x = torch.rand(2, 1, 5, 5, requires_grad=True)
    y = pool(x)
    assert y.shape == (2, 1, 3, 3)
    y.sum().backward()
    assert x.grad.sum().item() == pytest.approx(2 * 9)  # one selected input per output


@pytest.mark.parametrize("kind", ["max", "avg", "stochastic"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_pooling_kinds_halve_every_axis(kind: str, dims: int) -> None:
    pool = pooling(kind, dims, 2)
    assert pool(torch.rand(2, 3, *([8] * dims))).shape == (2, 3, *([4] * dims))
    with pytest.raises(UserError, match="pool must be one of max, avg, stochastic"):
        pooling("mean", dims, 2)


def test_global_pooling() -> None:
    x = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    assert torch.equal(GlobalPool("avg")(x), x.mean(-1))
    assert torch.equal(GlobalPool("max")(x.view(2, 3, 2, 2)), x[..., -1])
