"""Inception: module branches and channel bookkeeping, the 5x5 factorisation, and that it learns digits."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.inception import InceptionModule, InceptionNet, module_plan


def test_module_concatenates_its_four_branches() -> None:
    # GoogLeNet's inception (3a): 192 channels in, 64 + 128 + 32 + 32 = 256 out
    module = InceptionModule(192, c1=64, c3_reduce=96, c3=128, c5_reduce=16, c5=32, pool_proj=32)
    out = module(torch.randn(2, 192, 7, 7))
    assert out.shape == (2, 256, 7, 7)
    assert module_plan(256) == {"c1": 64, "c3_reduce": 96, "c3": 128, "c5_reduce": 16, "c5": 32, "pool_proj": 32}
    module.eval()
    x = torch.randn(1, 192, 7, 7)
    assert torch.equal(module(x)[:, :64], module.branch1(x))  # the 1x1 branch comes first
    assert torch.equal(module(x)[:, -32:], module.branch_pool(x))  # the pool projection last


def test_factorised_5x5_uses_two_3x3_convolutions_with_fewer_weights() -> None:
    plain = InceptionModule(16, 4, 8, 8, 8, 8, 4)
    factorised = InceptionModule(16, 4, 8, 8, 8, 8, 4, factorize_5x5=True)
    kernels = [m.kernel_size for m in factorised.branch5.modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(1, 1), (3, 3), (3, 3)]
    x = torch.randn(2, 16, 9, 9)
    assert plain(x).shape == factorised(x).shape == (2, 24, 9, 9)
    count = sum(p.numel() for p in factorised.branch5.parameters())
    assert count < sum(p.numel() for p in plain.branch5.parameters())


@pytest.mark.parametrize(("shape", "params"), [
    ((1, 32, 32), {}),
    ((1, 8, 8), {"widths": (16, 32, 48), "modules_per_stage": 2, "factorize_5x5": True, "dropout": 0.3}),
    ((2, 40, 40), {"stem_channels": 8, "widths": (8,)}),
    ((1, 3, 3), {"widths": (8, 8, 8, 8)}),  # tiny input: pooling keeps one pixel
])
def test_output_shapes(shape: tuple[int, ...], params: dict) -> None:
    model = InceptionNet.for_data({"x": shape}, out_features=5, **params)
    assert model(torch.randn(3, *shape)).shape == (3, 5)


@pytest.mark.parametrize(("params", "message"), [
    ({"widths": (32, 4)}, r"widths must be a list of one or more widths of at least 8 \(four branches\); received \(32, 4\)"),
    ({"modules_per_stage": 0}, "modules_per_stage must be a positive integer"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\); received 1.0"),
])
def test_bad_arguments_are_user_errors(params: dict, message: str) -> None:
    with pytest.raises(UserError, match=f"inception: {message}"):
        InceptionNet(1, **params)


def test_registry_entry() -> None:
    assert MODELS.get("inception") is InceptionNet
    assert MODELS.describe()["inception"] == inspect.getdoc(InceptionNet).splitlines()[0]


def test_inception_learns_8x8_digits(tmp_path, one_thread: None) -> None:
    # stem 16, modules of 32 and 64 channels on 1258 training digits, 4 epochs: measured test
    # accuracy 0.989 (5 epochs: 0.981), ~5-6 s on one busy core
    data = quanta.data.load("digits", resolution=8)
    run = quanta.fit("inception", data, task="multiclass", epochs=4, batch_size=32, lr=3e-3, patience=0,
                     out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.9, run.metrics["test"]
