"""Tests of the digits source: views, resolutions, seeded subsets, errors, figure, learning."""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.data import load
from quanta.errors import UserError
from quanta.simulators.digits import digits, show


def test_image_view_8x8():
    data = digits()
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == np.float32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.y.dtype == np.int64 and sorted(set(data.y.tolist())) == list(range(10))
    assert data.classes == [str(d) for d in range(10)] and data.feature_names is None
    assert np.bincount(data.y).min() >= 170  # about 180 of each digit
    assert data.info == {"view": "image", "size": None, "seed": 1, "resolution": 8}


def test_images_are_scikit_learns():
    from sklearn.datasets import load_digits

    data, bundled = digits(size=50, seed=4), load_digits()
    np.testing.assert_array_equal(data.x[:, 0] * 16, bundled.images[data["index"]])
    np.testing.assert_array_equal(data.y, bundled.target[data["index"]])


def test_flat_view_is_the_image_row_by_row():
    image, flat = digits(size=40), digits(view="flat", size=40)
    assert flat.x.shape == (40, 64) and flat.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    np.testing.assert_array_equal(flat.x, image.x.reshape(40, 64))
    np.testing.assert_array_equal(flat.y, image.y)


def test_upsampled_32x32_is_bilinear():
    import torch

    small, large = digits(size=30, seed=2), digits(size=30, seed=2, resolution=32)
    assert large.x.shape == (30, 1, 32, 32) and large.x.dtype == np.float32
    assert 0.0 <= large.x.min() and large.x.max() <= 1.0
    # the same as torch's bilinear interpolation with align_corners=False
    reference = torch.nn.functional.interpolate(torch.from_numpy(small.x), scale_factor=4, mode="bilinear",
                                                align_corners=False)
    np.testing.assert_allclose(large.x, reference.numpy(), atol=1e-6)
    # averaging 4x4 blocks roughly gives the 8x8 image back
    blocks = large.x.reshape(30, 1, 8, 4, 8, 4).mean(axis=(3, 5))
    assert np.corrcoef(blocks.ravel(), small.x.ravel())[0, 1] > 0.95  # measured 0.98
    assert digits(view="flat", size=5, resolution=32).x.shape == (5, 1024)


def test_seeded_subsets_are_deterministic_and_nested():
    a, b, c = digits(size=100, seed=3), digits(size=100, seed=3), digits(size=300, seed=3)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a["index"], c["index"][:100])
    assert not np.array_equal(a["index"], digits(size=100, seed=4)["index"])
    everything = digits(seed=5)["index"]
    assert sorted(everything.tolist()) == list(range(1797)), "size=None takes every digit once"


@pytest.mark.parametrize(
    ("param", "value"),
    [("view", "pixels"), ("size", 1), ("size", 5000), ("size", 2.5), ("resolution", 16), ("seed", "one")],
)
def test_bad_parameters(param, value):
    with pytest.raises(UserError, match=param) as error:
        digits(**{param: value})
    assert str(value) in str(error.value) and "\n" not in str(error.value)


def test_registered_source_validates():
    data = load("digits", view="flat", size=20)
    assert data.name == "digits" and data.x.shape == (20, 64)
    with pytest.raises(UserError, match="resolution"):
        load("digits", resolution=16)


@pytest.mark.parametrize("resolution", [8, 32])
def test_show_returns_a_figure(resolution):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = show(digits(size=30, resolution=resolution))
    assert isinstance(figure, matplotlib.figure.Figure) and len(figure.axes) == 24
    plt.close(figure)


def test_mlp_reads_flat_digits(tmp_path):
    run = quanta.fit("mlp", digits(view="flat"), task="multiclass", params={"hidden": [64]}, epochs=30,
                     out=tmp_path, verbose=False)
    # measured: accuracy 0.96 on the 270 test digits (boosted trees with 200 rounds: 0.96)
    assert run.metrics["test"]["accuracy"] > 0.90, run.metrics["test"]
