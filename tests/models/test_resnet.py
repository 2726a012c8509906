"""ResNet: blocks and shortcuts, zero-init and Fixup starts, and that it learns showers and digits."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.resnet import ResidualBlock, ResNet


@pytest.mark.parametrize(("shape", "params"), [
    ((1, 32, 32), {}),
    ((1, 40, 40), {"block": "bottleneck", "widths": (4, 8), "depths": (1, 2)}),
    ((1, 8, 8), {"widths": (8, 8, 8, 8, 8), "depths": 1}),  # more halvings than pixels
    ((2, 64), {"widths": (8, 16)}),  # 1D signals
    ((1, 6, 16, 16), {"widths": (4, 8), "depths": 1, "norm": "group"}),  # calorimeter volumes
    ((1, 16, 16), {"fixup": True, "block": "bottleneck", "widths": (4, 8)}),
    ((1, 16, 16), {"zero_init_residual": True, "norm": "layer", "activation": "elu"}),
])
def test_output_shapes(shape: tuple[int, ...], params: dict) -> None:
    model = ResNet.for_data({"x": shape}, out_features=3, **params)
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_projection_shortcut_only_where_the_shape_changes() -> None:
    same = ResidualBlock(16, 16, "basic")
    assert isinstance(same.shortcut, nn.Identity)
    down = ResidualBlock(16, 32, "basic", stride=2)
    assert [type(m) for m in down.shortcut] == [nn.Conv2d, nn.BatchNorm2d]
    assert down.shortcut[0].kernel_size == (1, 1) and down.shortcut[0].stride == (2, 2)
    assert down(torch.randn(2, 16, 9, 9)).shape == (2, 32, 5, 5)
    bottleneck = ResidualBlock(64, 16, "bottleneck")  # 64 -> 1x1 16 -> 3x3 16 -> 1x1 64: identity fits
    assert isinstance(bottleneck.shortcut, nn.Identity)
    assert [c.kernel_size for c in bottleneck.convs] == [(1, 1), (3, 3), (1, 1)]
    assert isinstance(ResidualBlock(16, 16, "bottleneck").shortcut, nn.Sequential)  # 16 -> 64


def test_zero_init_residual_makes_every_block_start_as_its_shortcut() -> None:
    torch.manual_seed(0)
    model = ResNet(1, widths=(16, 32), zero_init_residual=True).eval()
    assert all(torch.all(b.last_norm.weight == 0) for b in model.blocks)
    block = model.blocks[0]  # identity shortcut: relu(x + 0) = x for the (non-negative) stem output
    x = torch.relu(torch.randn(2, 16, 6, 6))
    assert torch.equal(block(x), x)


def test_fixup_initialisation() -> None:
    torch.manual_seed(0)
    model = ResNet(1, widths=(16, 16, 16), depths=(3, 3, 3), fixup=True)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in model.modules())
    x = torch.randn(4, 1, 12, 12)
    assert torch.equal(model(x), torch.zeros(4, 1))  # the classifier starts at zero
    blocks = list(model.blocks)
    assert all(torch.all(b.convs[-1].weight == 0) for b in blocks)  # each branch starts at zero
    # the first convolution of a branch: He (fan-out) std sqrt(2 / (16 * 9)) times L^(-1/(2m-2)), L=9, m=2
    weights = torch.cat([b.convs[0].weight.flatten() for b in blocks[1:3] + blocks[4:6] + blocks[7:]])
    assert weights.std().item() == pytest.approx((2 / (16 * 9)) ** 0.5 * 9**-0.5, rel=0.08)
    assert [n for n, _ in blocks[0].named_parameters() if "bias_" in n or "scale" in n] == \
        ["bias_in", "bias_out", "scale"]
    # a bottleneck branch has m = 3 layers: L^(-1/4)
    bottleneck = ResNet(1, block="bottleneck", widths=(32,), depths=(16,), fixup=True)
    std = torch.cat([b.convs[1].weight.flatten() for b in bottleneck.blocks]).std().item()
    assert std == pytest.approx((2 / (32 * 9)) ** 0.5 * 16**-0.25, rel=0.05)


@pytest.mark.parametrize(("params", "message"), [
    ({"fixup": True, "zero_init_residual": True}, "choose fixup or zero_init_residual"),
    ({"block": "wide"}, "block must be one of basic, bottleneck"),
    ({"depths": (1, 2, 3, 4)}, "depths needs one entry per stage"),
    ({"norm": "none"}, "norm must be one of batch, group, layer"),
    ({"stem_channels": 0}, "stem_channels must be a positive integer"),
])
def test_bad_arguments_are_user_errors(params: dict, message: str) -> None:
    with pytest.raises(UserError, match=f"resnet: .*{message}"):
        ResNet(1, **params)


def test_registry_entry() -> None:
    assert MODELS.get("resnet") is ResNet
    assert MODELS.describe()["resnet"] == inspect.getdoc(ResNet).splitlines()[0]
    model = MODELS.create("resnet", in_channels=1, widths=[8, 16], depths=[1, 1])  # lists, as from YAML
    assert model.widths == (8, 16) and model.depths == (1, 1)


SMALL = {"widths": [8, 16], "depths": [1, 1], "stem_channels": 8}


def test_resnet_tells_electrons_from_pions(tmp_path, one_thread: None) -> None:
    # 1000 showers in the 32x32 calorimeter (700 for training), 3 epochs of a two-block ResNet.
    # The cell energies span four decades, so they are log-compressed first (log(1 + E / 10 MeV)),
    # as one does for calorimeter images. Measured: test AUC 0.986, accuracy 0.94 (~8 s, one busy core).
    data = quanta.data.load("calorimeter", view="image2d", size=1000, seed=2, progress=False)
    data = data.with_arrays(x=np.log1p(data.x / 0.01).astype(np.float32))
    run = quanta.fit("resnet", data, task="binary", params=SMALL, epochs=3, batch_size=32, lr=3e-3,
                     patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.93, run.metrics["test"]


@pytest.mark.parametrize(("params", "threshold"), [
    ({"fixup": True}, 0.9),  # measured: accuracy 0.974, train loss 2.03 -> 0.07
    ({"zero_init_residual": True}, 0.9),  # measured: accuracy 0.978, train loss 1.80 -> 0.05
])
def test_identity_started_resnets_train(tmp_path, one_thread: None, params: dict, threshold: float) -> None:
    # two blocks of 16 and 32 channels on 1258 training digits, 4 epochs (~3 s each)
    data = quanta.data.load("digits", resolution=8)
    run = quanta.fit("resnet", data, task="multiclass", params={"widths": [16, 32], "depths": [1, 1], **params},
                     epochs=4, batch_size=32, lr=1e-2, patience=0, out=tmp_path, verbose=False)
    losses = [record["train_loss"] for record in run.history]
    assert losses[-1] < 0.3 * losses[0], losses
    assert run.metrics["test"]["accuracy"] >= threshold, run.metrics["test"]


@pytest.mark.slow
@pytest.mark.parametrize("params", [{"block": "bottleneck", "widths": [8, 16]},
                                    {"block": "bottleneck", "widths": [8, 16], "fixup": True}])
def test_bottleneck_resnets_train(tmp_path, one_thread: None, params: dict) -> None:
    # measured: bottleneck 0.981, bottleneck with Fixup 0.967 test accuracy after 6 epochs (~7-9 s each)
    data = quanta.data.load("digits", resolution=8)
    run = quanta.fit("resnet", data, task="multiclass", params={"depths": [1, 1], **params}, epochs=6,
                     batch_size=32, lr=1e-2, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.85, run.metrics["test"]
