"""The autoencoder models: shapes for every input layout, the code statistics, the one-line errors,
and the denoising acceptance test of ``conv_autoencoder`` on SAXS detector images.

(Learning tests of the dense ``autoencoder`` under its task are in
``tests/tasks/test_autoencoding_task.py``.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.models.autoencoder import Autoencoder, CodeStatistics
from quanta.models.conv_autoencoder import ConvAutoencoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("shape", [(7,), (1, 6, 6), (5, 3)])
@pytest.mark.parametrize("hidden", [(), (16,), (16, 8)])
def test_dense_autoencoder_rebuilds_any_input_shape(shape, hidden):
    model = Autoencoder.for_data({"x": shape}, 0, code=2, hidden=hidden)
    x = torch.randn(4, *shape)
    assert model.encode(x).shape == (4, 2)
    assert model.decode(model.encode(x)).shape == model(x).shape == (4, *shape)


def test_dense_autoencoder_of_sets_zeroes_the_padded_slots():
    model = Autoencoder.for_data({"x": (5, 3), "mask": (5,)}, 0, code=2)
    assert model.inputs == ("x", "mask")
    mask = torch.tensor([[True, True, False, False, False]] * 2)
    out = model(torch.randn(2, 5, 3), mask)
    assert torch.all(out[:, 2:] == 0) and torch.any(out[:, :2] != 0)


@pytest.mark.parametrize("shape", [(1, 16, 16), (2, 15, 9), (1, 7, 7), (3, 20), (1, 5, 6, 7)])
@pytest.mark.parametrize("code", [None, 6])
def test_conv_autoencoder_gives_back_the_input_size_even_for_odd_sizes(shape, code):
    model = ConvAutoencoder.for_data({"x": shape}, 0, channels=(4, 8), code=code)
    x = torch.randn(2, *shape)
    assert model(x).shape == x.shape
    spatial = tuple(math.ceil(math.ceil(n / 2) / 2) for n in shape[1:])  # halved twice, rounding up
    assert model.encode(x).shape == ((2, 6) if code else (2, 8, *spatial))


def test_conv_autoencoder_gives_the_channels_a_task_asks_for():
    model = ConvAutoencoder.for_data({"x": (3, 8, 8)}, 1, channels=(4,))
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 1, 8, 8)


def test_code_statistics_give_the_mahalanobis_distance():
    rng = np.random.default_rng(0)
    covariance = np.array([[4.0, 1.0], [1.0, 2.0]])
    codes = rng.multivariate_normal([1.0, -2.0], covariance, size=4000)
    statistics = CodeStatistics(2, momentum=0.5)
    statistics.update(torch.tensor(codes, dtype=torch.float32))  # the first batch sets them
    np.testing.assert_allclose(statistics.covariance.numpy(), np.cov(codes.T), rtol=1e-4)
    points = np.array([[1.0, -2.0], [3.0, -2.0], [1.0, 0.0]])
    inverse = np.linalg.inv(np.cov(codes.T))
    centred = points - codes.mean(axis=0)
    want = np.einsum("ni,ij,nj->n", centred, inverse, centred)
    got = statistics.distance(torch.tensor(points, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    statistics.update(torch.tensor(codes[:100] + 10.0, dtype=torch.float32))  # later batches move them
    assert statistics.mean.numpy() == pytest.approx(0.5 * codes.mean(axis=0) + 0.5 * (codes[:100].mean(axis=0) + 10),
                                                    rel=1e-5)
    assert int(statistics.updates) == 2


def test_distance_without_statistics_is_a_one_line_error():
    with pytest.raises(UserError, match=r"^score 'mahalanobis': the model holds no code statistics; train it"):
        CodeStatistics(3).distance(torch.zeros(2, 3))


@pytest.mark.parametrize("params, message", [
    ({"kernel_size": 4}, r"^conv_autoencoder: kernel_size must be odd \(3, 5, \.\.\.\); received 4$"),
    ({"code_activation": "sigmoid"}, r"^conv_autoencoder: code_activation 'sigmoid' acts on a dense code; give code"),
    ({"channels": []}, r"^conv_autoencoder: channels must be a list of one or more positive integers; received"),
    ({"norm": "instance"}, r"^conv_autoencoder: norm must be one of none, batch, group, layer; received 'instance'$"),
])
def test_bad_conv_autoencoder_parameters_are_one_line_errors(params, message):
    with pytest.raises(UserError, match=message):
        ConvAutoencoder.for_data({"x": (1, 8, 8)}, 0, **params)


def test_bad_dense_autoencoder_parameters_are_one_line_errors():
    with pytest.raises(UserError, match=r"^autoencoder: code must be a positive integer; received 0$"):
        Autoencoder(input_shape=(4,), code=0)
    with pytest.raises(UserError, match=r"^autoencoder: code_activation must be one of identity, sigmoid, tanh, relu"):
        Autoencoder(input_shape=(4,), code_activation="softmax")


def psnr(clean: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``clean`` (peak: the clean images' range)."""
    peak = float(clean.max() - clean.min())
    return float(10 * np.log10(peak**2 / np.mean((clean - image) ** 2)))


def _saxs_pairs(size: int, seed: int) -> Dataset:
    """Noisy 16 x 16 detector images (log10 I, 1e3 counts per 1/cm) and the noise-free ones."""
    data = quanta.data.load("saxs", view="saxs2d", size=size, seed=seed, image_pixels=16, downsample=1,
                            beamstop=0.0, flux=1e3, progress=False)
    return Dataset({"x": data.x, "y": data["target_image"]}, name="saxs2d")


def test_conv_autoencoder_denoises_saxs_detector_images():
    """The denoising acceptance test: noisy images in, clean images as targets (task reconstruction).

    This is the denoising autoencoder of Vincent et al. with the instrument's own corruption: the
    input is a Poisson-noisy measurement, the target the clean image, so the network learns the
    clean image given the noisy one (under task autoencoding with noise it would learn to rebuild
    the noisy image itself). Measured (400 image pairs, 280 for training, 20 epochs of batches of 16,
    channels 16, 32; ~5 s on one core, the data ~3 s more): noisy 25.4 dB, denoised 31.3 dB on 100
    held-out images.
    """
    train, holdout = _saxs_pairs(400, seed=1), _saxs_pairs(100, seed=2)
    run = quanta.fit("conv_autoencoder", train, task="reconstruction", params={"channels": [16, 32]},
                     epochs=20, batch_size=16, lr=3e-3, patience=0)
    noisy = psnr(holdout.y, holdout.x)
    denoised = psnr(holdout.y, run.predict(holdout.x))
    assert denoised > noisy + 3.0, (denoised, noisy)
