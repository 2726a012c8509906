"""The perceptron model: a linear unit whose step decision the task applies."""

from __future__ import annotations

import pytest
import torch

from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.perceptron import Perceptron


@pytest.mark.parametrize("shape, out", [((5,), 1), ((2, 3), 1), ((4,), 3)])
def test_shapes_and_flattening(shape, out):
    model = MODELS.get("perceptron").for_data({"x": shape}, out)
    activation = model(torch.randn(7, *shape))
    assert activation.shape == (7, out)


def test_starts_at_zero_and_steps_at_zero():
    model = Perceptron(3)
    assert torch.count_nonzero(model.linear.weight) == 0 and float(model.linear.bias.detach()) == 0.0
    assert torch.equal(Perceptron.step(torch.tensor([-1e-6, 0.0, 2.0])), torch.tensor([0.0, 1.0, 1.0]))
    assert torch.count_nonzero(Perceptron(3, init="default").linear.weight) == 3


def test_bad_arguments():
    with pytest.raises(UserError, match="in_features"):
        Perceptron(0)
    with pytest.raises(UserError, match="init"):
        Perceptron(2, init="he")
