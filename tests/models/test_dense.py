"""Highway networks and residual MLPs: shapes, gates and residual initialisations, learning."""

from __future__ import annotations

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.dense import HighwayNetwork, ResidualMLP
from tests.conftest import xor_clouds

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name, params", [
    ("highway", {}),
    ("highway", {"width": 8, "depth": 1, "activation": "tanh", "init": "xavier", "dropout": 0.1}),
    ("highway", {"width": 8, "drop_connect": 0.3}),
    ("residual_mlp", {}),
    ("residual_mlp", {"width": 8, "blocks": 3, "norm": "batch", "init": "he", "residual_init": "small"}),
    ("residual_mlp", {"width": 8, "norm": "none", "residual_init": "fixup", "drop_connect": 0.2}),
])
@pytest.mark.parametrize("shape, out", [((5,), 1), ((2, 3), 4)])
def test_shapes(name, params, shape, out):
    model = MODELS.get(name).for_data({"x": shape}, out, **params)
    model.train()
    assert model(torch.randn(6, *shape)).shape == (6, out)
    model.eval()
    assert model(torch.randn(6, *shape)).shape == (6, out)


def test_highway_gates_start_closed_and_carry_the_input():
    model = HighwayNetwork(3, 1, width=8, depth=2, gate_bias=-20.0, init="he")
    assert torch.all(model.layers[0].gate.bias == -20.0)  # init schemes keep the gate bias
    h = torch.randn(5, 8)
    assert torch.allclose(model.layers(h), h, atol=1e-6)  # gates shut: every layer is the identity


def test_residual_initialisations():
    torch.manual_seed(0)
    h = torch.randn(5, 16)
    zero = ResidualMLP(3, 1, width=16, blocks=3, residual_init="zero")
    assert torch.allclose(zero.layers(h), h)  # every block starts as the identity
    standard = ResidualMLP(3, 1, width=16, blocks=4)
    torch.manual_seed(0)
    small = ResidualMLP(3, 1, width=16, blocks=4, residual_init="small")
    torch.manual_seed(0)
    reference = ResidualMLP(3, 1, width=16, blocks=4)
    assert torch.allclose(small.layers[0].linear2.weight, reference.layers[0].linear2.weight / 2)  # 1/sqrt(4)
    assert standard.layers[0].linear2.weight.abs().mean() > small.layers[0].linear2.weight.abs().mean()
    fixup = ResidualMLP(3, 2, width=16, blocks=4, norm="none", residual_init="fixup")
    assert torch.count_nonzero(fixup(torch.randn(5, 3))) == 0  # zero output layer
    assert torch.count_nonzero(fixup.layers[0].linear2.weight) == 0 and fixup.layers[0].linear2.bias is None
    assert fixup.layers[0].biases.shape == (4,) and float(fixup.layers[0].scale.detach()) == 1.0
    he_std = (2 / 16) ** 0.5 / 2  # He for ReLU, scaled by blocks^(-1/2)
    assert fixup.layers[0].linear1.weight.std().item() == pytest.approx(he_std, rel=0.15)
    with pytest.raises(UserError, match="set norm 'none'"):
        ResidualMLP(3, 1, residual_init="fixup")
    with pytest.raises(UserError, match="residual_init"):
        ResidualMLP(3, 1, residual_init="tiny")
    with pytest.raises(UserError, match="depth"):
        HighwayNetwork(3, 1, depth=0)


@pytest.mark.parametrize("name, params", [
    ("highway", {"width": 16, "depth": 3}),
    ("residual_mlp", {"width": 16, "blocks": 2}),
    ("residual_mlp", {"width": 16, "blocks": 2, "norm": "none", "residual_init": "fixup"}),
])
def test_learns_xor(tmp_path, name, params):
    x, y = xor_clouds(1500)
    run = quanta.fit(name, (x, y), params=params, epochs=12, batch_size=64, lr=0.01, patience=0,
                     out=tmp_path, verbose=False)
    # measured (1050 training samples, 12 epochs, 1-3 s): test accuracy 1.00 and AUC 1.00 for all three
    assert run.metrics["test"]["accuracy"] > 0.95 and run.metrics["test"]["auc"] > 0.98
