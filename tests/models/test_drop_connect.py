"""DropConnect: random weights dropped in training, the mean network in evaluation, and an MLP option."""

from __future__ import annotations

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.drop_connect import DropConnectLinear, dense
from quanta.models.mlp import MLP
from tests.conftest import xor_clouds

pytestmark = pytest.mark.usefixtures("one_thread")


def test_evaluation_is_the_plain_linear_layer():
    torch.manual_seed(0)
    layer = DropConnectLinear(6, 4, p=0.5).eval()
    x = torch.randn(10, 6)
    assert torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias))
    assert isinstance(dense(3, 2), torch.nn.Linear) and not isinstance(dense(3, 2), DropConnectLinear)
    assert isinstance(dense(3, 2, drop_connect=0.3), DropConnectLinear)


def test_training_drops_weights_and_is_unbiased():
    torch.manual_seed(0)
    layer = DropConnectLinear(1, 2000, bias=False, p=0.3)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    out = layer(torch.ones(1, 1))  # one output per weight: 0 or 1 / 0.7
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(0.3, abs=0.03)
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)  # inverted scaling keeps the mean


def test_per_sample_masks_differ_between_samples():
    torch.manual_seed(0)
    layer = DropConnectLinear(8, 8, p=0.5, per_sample=True)
    x = torch.ones(2, 8)
    out = layer(x)
    assert out.shape == (2, 8) and not torch.equal(out[0], out[1])
    shared = DropConnectLinear(8, 8, p=0.5)
    out = shared(x)
    assert torch.equal(out[0], out[1])  # one mask per batch
    with pytest.raises(UserError, match=r"\[0, 1\)"):
        DropConnectLinear(2, 2, p=1.0)


def test_mlp_option_keeps_the_default_and_learns_xor(tmp_path):
    plain = MLP(2, 1, hidden=(4,))
    assert type(plain.layers[0]) is torch.nn.Linear  # default behaviour unchanged
    model = MLP(2, 1, hidden=(4,), drop_connect=0.2)
    assert isinstance(model.layers[0], DropConnectLinear) and type(model.layers[-1]) is torch.nn.Linear
    assert set(model.state_dict()) == set(plain.state_dict())  # same keys: weights load across
    with pytest.raises(UserError, match="drop_connect"):
        MLP(2, 1, drop_connect=1.5)
    x, y = xor_clouds(1500)
    run = quanta.fit("mlp", (x, y), params={"hidden": [32], "activation": "tanh", "drop_connect": 0.2},
                     epochs=25, batch_size=64, lr=0.01, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] > 0.95  # measured 0.996 (1050 training samples, 25 epochs, ~2 s)
