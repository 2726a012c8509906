"""Activations by name: each derivative (autograd) matches its formula."""

from __future__ import annotations

import math

import pytest
import torch

from quanta.errors import UserError
from quanta.models.activations import ACTIVATIONS, activation


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-x))


def _normal_pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def _step(x: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


# name -> analytic derivative f'(x), written from the textbook formulas
DERIVATIVES = {
    "identity": lambda x: torch.ones_like(x),
    "sigmoid": lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
    "tanh": lambda x: 1 - torch.tanh(x) ** 2,
    "relu": lambda x: (x > 0).to(x.dtype),
    "leaky_relu": lambda x: _step(x, slope=0.01),
    "prelu": lambda x: _step(x, slope=0.25),  # PyTorch's initial slope
    "elu": lambda x: torch.where(x > 0, torch.ones_like(x), torch.exp(x)),
    "softplus": _sigmoid,
    "gelu": lambda x: _normal_cdf(x) + x * _normal_pdf(x),  # d/dx [x Φ(x)]
    "silu": lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
}


def test_table_covers_every_activation() -> None:
    assert set(ACTIVATIONS) == set(DERIVATIVES)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_matches_formula(name: str) -> None:
    # a grid that avoids x = 0, where the rectifiers have a kink
    x = torch.linspace(-5, 5, 1000, dtype=torch.float64).requires_grad_()
    module = activation(name).to(torch.float64)
    (grad,) = torch.autograd.grad(module(x).sum(), x)
    torch.testing.assert_close(grad, DERIVATIVES[name](x.detach()), rtol=1e-10, atol=1e-12)


def test_each_call_builds_a_new_module() -> None:
    # prelu's slope is learnable: two layers must not share it
    assert activation("prelu") is not activation("prelu")


def test_unknown_name_is_a_user_error_with_suggestion() -> None:
    with pytest.raises(UserError, match="unknown activation 'rleu'.*did you mean 'relu'"):
        activation("rleu")
