"""The configurable CNN: shapes in 1D, 2D and 3D, options, errors, and that it learns digits."""

from __future__ import annotations

import inspect

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.cnn import CNN
from quanta.models.conv import StochasticPool


@pytest.mark.parametrize(("shape", "params"), [
    ((2, 100), {}),  # 1D signals [N, C, L]
    ((1, 8, 8), {}),  # digits
    ((1, 40, 40), {"channels": (8, 16, 16, 16), "downsample": "stride"}),  # jet images
    ((1, 5, 16, 16), {"channels": (4, 8)}),  # calorimeter volumes [N, C, D, H, W]
    ((3, 9, 11), {"channels": (4, 8), "padding": 1, "dilation": 2, "separable": True, "pool": "avg",
                  "global_pool": "max"}),
    ((1, 8, 8), {"channels": (4,) * 6}),  # more halvings than pixels: the map stays 1x1
    ((1, 12, 12), {"convs_per_block": 2, "downsample": "none", "hidden": (), "norm": "group"}),
    ((1, 16, 16), {"pool": "stochastic", "dropout": 0.2, "activation": "elu", "norm": "layer"}),
])
def test_output_shapes(shape: tuple[int, ...], params: dict) -> None:
    model = CNN.for_data({"x": shape}, out_features=3, **params)
    assert model.dims == len(shape) - 1
    for mode in (model.train, model.eval):
        mode()
        assert model(torch.randn(4, *shape)).shape == (4, 3)


def test_calorimeter_volumes_use_3d_convolutions() -> None:
    model = CNN.for_data({"x": (1, 30, 32, 32)}, out_features=1, channels=(4, 8, 8))
    assert isinstance(model.blocks[0][0].conv, torch.nn.Conv3d)
    assert model.feature_shape((30, 32, 32)) == (4, 4, 4)
    assert model(torch.randn(2, 1, 30, 32, 32)).shape == (2, 1)


def test_feature_shape_follows_the_output_size_formula() -> None:
    model = CNN(1, dims=2, channels=(8, 8), padding=0, kernel_size=5)
    # block 0: 32 -5+1-> 28 -pool-> 14; block 1: 14 -> 10 -> 5 (LeNet's arithmetic)
    assert model.feature_shape((32, 32)) == (5, 5)
    assert model.blocks(torch.randn(1, 1, 32, 32)).shape == (1, 8, 5, 5)
    with pytest.raises(UserError, match=r"input of size \(8, 8\) vanishes in block 1"):
        CNN.for_data({"x": (1, 8, 8)}, 1, channels=(8, 8), padding=0, kernel_size=5)


def test_stochastic_pooling_is_used_when_asked() -> None:
    model = CNN(1, channels=(4, 4), pool="stochastic")
    assert sum(isinstance(m, StochasticPool) for m in model.modules()) == 2


def test_translation_invariance_with_global_pooling() -> None:
    # Convolutions commute with shifts; global pooling then forgets the position. It is exact for
    # a shift by a multiple of the total downsampling (2 x 2) of a pattern on a zero background
    # that stays zero (no biases), away from the borders (zero padding is not shift-invariant).
    torch.manual_seed(0)
    model = CNN(1, 2, channels=(8, 8), norm="none", global_pool="max").eval()
    with torch.no_grad():
        for block in model.blocks:
            block[0].conv.bias.zero_()
    image = torch.zeros(1, 1, 24, 24)
    image[0, 0, 4:9, 5:8] = torch.rand(5, 3)
    shifted = torch.roll(image, shifts=(8, 12), dims=(2, 3))
    assert torch.allclose(model(image), model(shifted), atol=1e-6)


@pytest.mark.parametrize(("params", "message"), [
    ({"channels": ()}, r"channels must be a list of one or more positive integers; received \(\)"),
    ({"channels": (8, 0)}, r"channels must be a list of one or more positive integers; received \(8, 0\)"),
    ({"downsample": "conv"}, "downsample must be one of pool, stride, none"),
    ({"pool": "median"}, "pool must be one of max, avg, stochastic"),
    ({"dropout": 1.5}, r"dropout must be a number in \[0, 1\); received 1.5"),
    ({"padding": "valid"}, "padding must be 'same' or a non-negative integer"),
    ({"dims": 4}, "dims must be 1, 2 or 3"),
])
def test_bad_arguments_are_user_errors(params: dict, message: str) -> None:
    with pytest.raises(UserError, match=f"cnn: .*{message}"):
        CNN(1, **params)


def test_for_data_checks_dims() -> None:
    with pytest.raises(UserError, match="inputs x must be"):
        CNN.for_data({"x": (64,)}, 1)
    with pytest.raises(UserError, match="dims=3 does not match"):
        CNN.for_data({"x": (1, 8, 8)}, 1, dims=3)


def test_registry_entry() -> None:
    assert MODELS.get("cnn") is CNN
    assert MODELS.describe()["cnn"] == inspect.getdoc(CNN).splitlines()[0]
    params = inspect.signature(CNN).parameters
    assert [n for n, p in params.items() if p.default is p.empty] == ["in_channels"]


@pytest.mark.parametrize("params", [
    {"pool": "stochastic"},  # measured: test accuracy 0.985, 3.9 s
    {"downsample": "stride"},  # measured: test accuracy 0.963, 3.5 s
])
def test_cnn_learns_8x8_digits(tmp_path, one_thread: None, params: dict) -> None:
    # 1797 digits, 1258 for training, 6 epochs of batches of 32 (1 thread, busy machine)
    data = quanta.data.load("digits", resolution=8)
    run = quanta.fit("cnn", data, task="multiclass", params={"channels": [16, 32], **params}, epochs=6,
                     batch_size=32, lr=3e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.9, run.metrics["test"]
