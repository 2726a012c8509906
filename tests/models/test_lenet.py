"""LeNet-5: the paper's layer sizes and parameter count, the C3 table, and that it reads digits."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.lenet import C3_TABLE, LeNet5


def test_layer_sizes_of_the_paper() -> None:
    model = LeNet5()
    x = torch.randn(2, 1, 32, 32)
    sizes = []
    for layer in model.features:
        x = layer(x)
        if not isinstance(layer, nn.Tanh):
            sizes.append(tuple(x.shape[1:]))
    # C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120@1x1
    assert sizes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert model.forward_features(torch.randn(2, 1, 32, 32)).shape == (2, 84)  # F6
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_parameter_count() -> None:
    # C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850 (a dense C3, no trainable subsampling)
    assert _count(LeNet5()) == 61_706
    # with the paper's table C3 has 60 connected map pairs: 60 * 25 + 16 = 1,516 effective weights
    assert sum(len(sources) for sources in C3_TABLE) == 60
    model = LeNet5(sparse_c3=True)
    c3 = model.features[3]
    assert int((c3.mask.expand_as(c3.weight) != 0).sum()) + c3.bias.numel() == 1_516


def test_sparse_c3_ignores_and_freezes_the_unconnected_weights(one_thread: None) -> None:
    torch.manual_seed(0)
    model = LeNet5(sparse_c3=True)
    c3 = model.features[3]
    unconnected = (c3.mask == 0).expand_as(c3.weight)
    before = c3.weight.detach().clone()
    optimiser = torch.optim.AdamW(model.parameters(), lr=0.01)
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    nn.functional.cross_entropy(model(x), y).backward()
    assert torch.all(c3.weight.grad[unconnected] == 0)
    optimiser.step()
    connected_change = (c3.weight - before)[~unconnected].abs().max()
    assert connected_change > 0
    # whatever the unconnected weights hold, C3's output map 0 only reads S2 maps 0, 1, 2
    with torch.no_grad():
        c3.weight[0, 5] = 100.0
    s2 = torch.zeros(1, 6, 14, 14)
    s2[0, 5] = 1.0
    assert torch.allclose(c3(s2)[0, 0], c3.bias[0].expand(10, 10))


@pytest.mark.parametrize(("shape", "out"), [((1, 32, 32), 10), ((1, 40, 40), 2), ((3, 36, 33), 1)])
def test_larger_inputs_are_accepted(shape: tuple[int, ...], out: int) -> None:
    model = LeNet5.for_data({"x": shape}, out, activation="relu", pool="max")
    assert model(torch.randn(3, *shape)).shape == (3, out)


def test_small_inputs_get_a_clear_error() -> None:
    with pytest.raises(UserError, match=r"at least 32x32 .*received \(8, 8\).*resolution=32"):
        LeNet5.for_data({"x": (1, 8, 8)}, 10)
    with pytest.raises(UserError, match="pool must be 'avg' or 'max'"):
        LeNet5(pool="stochastic")


def test_registry_entry() -> None:
    assert MODELS.get("lenet5") is LeNet5
    assert MODELS.describe()["lenet5"] == inspect.getdoc(LeNet5).splitlines()[0]
    params = inspect.signature(LeNet5).parameters
    assert all(p.default is not p.empty for p in params.values())


def test_lenet5_reads_digits(tmp_path, one_thread: None) -> None:
    # The paper's network (tanh, average pooling) on the 1797 digits upsampled to 32x32, 1258 for
    # training, 5 epochs of batches of 32: measured test accuracy 0.963 (~3-5 s on one busy core).
    data = quanta.data.load("digits", resolution=32)
    run = quanta.fit("lenet5", data, task="multiclass", epochs=5, batch_size=32, lr=2e-3, patience=0,
                     out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.9, run.metrics["test"]


@pytest.mark.slow
@pytest.mark.parametrize("params", [{"activation": "relu", "pool": "max"}, {"sparse_c3": True}])
def test_lenet5_variants_read_digits(tmp_path, one_thread: None, params: dict) -> None:
    # measured: relu/max 0.978, sparse C3 0.970 test accuracy after 8 epochs (~5-6 s each)
    data = quanta.data.load("digits", resolution=32)
    run = quanta.fit("lenet5", data, task="multiclass", params=params, epochs=8, batch_size=32, lr=2e-3,
                     patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.93, run.metrics["test"]


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
