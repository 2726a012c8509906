"""Spatial transformer: identity start, learning a known affine map, shapes, and the STN-CNN on digits."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.nn import functional as F

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.spatial_transformer import SpatialTransformer, SpatialTransformerCNN


@pytest.mark.parametrize(("dims", "shape"), [(2, (3, 16, 20)), (2, (1, 5, 5)), (3, (1, 6, 8, 8))])
def test_starts_as_the_identity(dims: int, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    layer = SpatialTransformer(shape[0], dims=dims)
    x = torch.randn(2, *shape)
    theta = layer.theta(x)
    assert theta.shape == (2, dims, dims + 1)
    assert torch.equal(theta, torch.eye(dims, dims + 1).expand(2, -1, -1))
    assert torch.allclose(layer(x), x, atol=1e-5)  # sampling at the pixel centres reproduces the input


def _blobs(n: int, size: int = 16) -> torch.Tensor:
    """Smooth random images: three Gaussian blobs each, ``[n, 1, size, size]``."""
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    centres = torch.rand(n, 3, 2) * 1.2 - 0.6
    d2 = (xx - centres[..., 0, None, None]) ** 2 + (yy - centres[..., 1, None, None]) ** 2  # [n, 3, size, size]
    return torch.exp(-d2 / 0.05).sum(1, keepdim=True)


def test_learns_a_known_affine_map(one_thread: None) -> None:
    # Targets are the inputs resampled by a fixed map (a zoom by 0.8 and a shift); the layer,
    # trained on the mean squared error alone, must find that map. Measured: max |theta - true|
    # = 0.0007 after 300 Adam steps (~2-4 s on one busy core).
    torch.manual_seed(0)
    true = torch.tensor([[0.8, 0.0, 0.15], [0.0, 0.8, -0.1]])
    layer = SpatialTransformer(1, channels=(4,), hidden=16)
    optimiser = torch.optim.Adam(layer.parameters(), lr=3e-3)
    for _ in range(300):
        x = _blobs(32)
        target = F.grid_sample(x, F.affine_grid(true.expand(32, -1, -1), list(x.shape), align_corners=False),
                               align_corners=False)
        optimiser.zero_grad()
        F.mse_loss(layer(x), target).backward()
        optimiser.step()
    with torch.no_grad():
        theta = layer.theta(_blobs(64)).mean(0)
    assert torch.allclose(theta, true, atol=0.02), theta


@pytest.mark.parametrize(("shape", "params"), [
    ((1, 8, 8), {}),
    ((1, 40, 40), {"localisation_channels": (4, 8, 8), "channels": (8, 16, 16, 16), "pool": "avg"}),
    ((1, 4, 16, 16), {"channels": (4, 8)}),  # volumes
])
def test_stn_cnn_output_shapes(shape: tuple[int, ...], params: dict) -> None:
    model = SpatialTransformerCNN.for_data({"x": shape}, out_features=3, **params)
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_bad_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="dims must be 2 .* or 3"):
        SpatialTransformer(1, dims=1)
    with pytest.raises(UserError, match="padding_mode must be"):
        SpatialTransformer(1, padding_mode="wrap")
    with pytest.raises(UserError, match="stn_cnn: inputs x must be images"):
        SpatialTransformerCNN.for_data({"x": (2, 100)}, 1)


def test_registry_entry() -> None:
    assert MODELS.get("stn_cnn") is SpatialTransformerCNN
    assert MODELS.describe()["stn_cnn"] == inspect.getdoc(SpatialTransformerCNN).splitlines()[0]


def test_stn_cnn_learns_8x8_digits(tmp_path, one_thread: None) -> None:
    # 1258 training digits, 6 epochs: measured test accuracy 0.970 (~4-8 s on one busy core)
    data = quanta.data.load("digits", resolution=8)
    run = quanta.fit("stn_cnn", data, task="multiclass", params={"channels": [16, 32]}, epochs=6, batch_size=32,
                     lr=3e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] >= 0.9, run.metrics["test"]
