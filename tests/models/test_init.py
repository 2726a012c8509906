"""Initialisation schemes: weight variances follow the Glorot and He formulas."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.init import INIT_SCHEMES, gain, initialise

FAN_IN, FAN_OUT = 1000, 600  # 600k weights: sample variance within ~0.5 %


@pytest.mark.parametrize("activation", ["identity", "tanh", "sigmoid", "relu", "leaky_relu"])
def test_xavier_variance(activation: str) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    initialise(layer, "xavier", activation)
    expected = gain(activation) ** 2 * 2 / (FAN_IN + FAN_OUT)
    assert layer.weight.var().item() == pytest.approx(expected, rel=0.02)
    # uniform on [-a, a] with a = gain * sqrt(6 / (fan_in + fan_out))
    assert layer.weight.abs().max().item() <= (3 * expected) ** 0.5
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize(
    ("activation", "gain_squared"),
    [
        ("relu", 2.0),
        ("gelu", 2.0),
        ("leaky_relu", 2 / (1 + 0.01**2)),
        ("prelu", 2 / (1 + 0.25**2)),
        ("tanh", (5 / 3) ** 2),
    ],
)
def test_he_variance(activation: str, gain_squared: float) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    initialise(layer, "he", activation)
    assert layer.weight.var().item() == pytest.approx(gain_squared / FAN_IN, rel=0.02)
    assert layer.weight.mean().abs().item() < 1e-3
    assert torch.count_nonzero(layer.bias) == 0


def test_he_on_convolutions_uses_fan_in_of_the_kernel() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 128, kernel_size=5)
    initialise(nn.Sequential(conv, nn.ReLU()), "he", "relu")
    fan_in = 64 * 5 * 5
    assert conv.weight.var().item() == pytest.approx(2 / fan_in, rel=0.02)


def test_default_is_pytorchs_own() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    nn.init.zeros_(layer.weight)
    initialise(layer, "default", "relu")
    # kaiming_uniform with a = sqrt(5): variance 1 / (3 fan_in)
    assert layer.weight.var().item() == pytest.approx(1 / (3 * FAN_IN), rel=0.02)


def test_leaves_other_layers_alone() -> None:
    norm = nn.LayerNorm(8)
    initialise(nn.Sequential(nn.Linear(4, 8), norm), "xavier", "tanh")
    assert torch.equal(norm.weight, torch.ones(8))


def test_unknown_scheme_lists_the_allowed_ones() -> None:
    with pytest.raises(UserError, match="unknown init scheme 'glorot'.*" + ", ".join(INIT_SCHEMES)):
        initialise(nn.Linear(2, 2), "glorot", "relu")


def test_unknown_activation_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown activation"):
        initialise(nn.Linear(2, 2), "he", "rectifier")
