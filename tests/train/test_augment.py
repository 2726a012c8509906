"""Augmentations: what each does to a batch, in raw units, and only to training batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quanta.data.dataset import from_arrays
from quanta.tasks.binary import Binary
from quanta.train.augment import AugmentPipeline, build_augmentation, build_augmentations
from quanta.train.config import TrainConfig
from quanta.train.network import Network


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 64, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=generator(1))


def test_rotate90_and_flip_move_pixels_without_changing_them():
    x = images()
    rotated = build_augmentation("rotate90")(x, None, generator())
    flipped = build_augmentation({"name": "flip", "axes": [-2, -1]})(x, None, generator())
    for out in (rotated, flipped):
        assert out.shape == x.shape
        assert torch.equal(out.flatten(1).sort(dim=1).values, x.flatten(1).sort(dim=1).values)  # same pixels
    candidates = torch.stack([torch.rot90(x, k, (-2, -1)) for k in range(4)])  # [4, N, 1, H, W]
    matches = (candidates == rotated).flatten(2).all(dim=2)  # [4, N]
    assert matches.any(dim=0).all() and (matches[0].float().mean() < 0.5)  # every sample is some rotation
    with pytest.raises(ValueError, match="needs images"):
        build_augmentation("rotate90")(torch.zeros(4, 3), None, generator())


def test_shift_rolls_images_and_offsets_constituents():
    x = images()
    rolled = build_augmentation({"name": "shift", "max_shift": 2})(x, None, generator())
    assert torch.allclose(rolled.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))  # a roll keeps every pixel
    assert not torch.equal(rolled, x)
    particles = torch.randn(5, 6, 3, generator=generator(2))
    mask = torch.arange(6)[None, :] < torch.tensor([6, 4, 2, 5, 1])[:, None]
    particles = particles * mask[..., None]
    shifted = build_augmentation({"name": "shift", "max_shift": 0.3, "features": [0, 1]})(particles, mask, generator())
    delta = shifted - particles
    assert torch.all(delta[~mask] == 0) and torch.all(delta[..., 2] == 0)  # padding and other features untouched
    per_jet = delta[:, :1, :2].expand(-1, 6, -1)
    assert torch.allclose(delta[..., :2][mask], per_jet[mask])  # one offset per jet
    assert delta.abs().max() <= 0.3


def test_smear_jitter_and_crop():
    x = torch.ones(4000, 3)
    smeared = build_augmentation({"name": "smear", "sigma": 0.1, "features": [2]})(x, None, generator())
    assert torch.equal(smeared[:, :2], x[:, :2])
    assert smeared[:, 2].mean().item() == pytest.approx(1.0, abs=0.01)
    assert smeared[:, 2].std().item() == pytest.approx(0.1, rel=0.05)
    per_jet = build_augmentation({"name": "smear", "sigma": 0.1, "per_sample": True})(x, None, generator())
    assert torch.allclose(per_jet, per_jet[:, :1].expand(-1, 3))
    jittered = build_augmentation({"name": "jitter", "sigma": 0.2})(x, None, generator())
    assert (jittered - x).std().item() == pytest.approx(0.2, rel=0.05)
    image = torch.ones(100, 1, 6, 6)
    cropped = build_augmentation({"name": "crop", "padding": 2})(image, None, generator())
    assert cropped.shape == image.shape and cropped.min() == 0 and cropped.max() == 1  # zeros came in
    assert torch.all(cropped.sum(dim=(1, 2, 3)) >= 16)  # a window of 6 with at most 2 padded rows and columns


def test_pipeline_works_in_raw_units():
    raw = torch.full((2000, 1), 100.0)
    mean, scale = torch.tensor([[90.0]]), torch.tensor([[5.0]])
    standardised = (raw - mean) / scale
    pipeline = AugmentPipeline(build_augmentations([{"name": "smear", "sigma": 0.1}]), mean, scale)
    back = pipeline({"x": standardised}, generator())["x"] * scale + mean
    assert back.std().item() == pytest.approx(10.0, rel=0.05)  # 10 % of 100 GeV, not 10 % of a z-score


@pytest.mark.parametrize("spec, message", [
    ("rotate", "unknown augmentation 'rotate'; did you mean 'rotate90'"),
    ({"name": "smear", "sigmas": 1}, "unknown parameter 'sigmas'"),
    ({"name": "jitter", "sigma": -1}, "sigma must be >= 0"),
    ({"sigma": 1}, "a name or a mapping with 'name'"),
])
def test_bad_augmentations_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        build_augmentation(spec)
    with pytest.raises(ValueError, match=message):
        TrainConfig(augment=[spec])


class Spy(torch.nn.Module):
    """A linear model that remembers the inputs it saw in training and in evaluation mode."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.seen = {True: [], False: []}

    def forward(self, x):
        self.seen[self.training].append(x.detach().clone())
        return self.linear(x)


def test_augmentation_changes_training_batches_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    data = from_arrays(x, (x[:, 0] > 0).astype(np.float32))
    train, valid = data.subset(np.arange(150)), data.subset(np.arange(150, 200))
    spy = Spy()
    config = TrainConfig(epochs=2, batch_size=50, augment=[{"name": "jitter", "sigma": 0.5}], progress=False)
    network = Network(spy, Binary(), config, standardize=False).fit(train, valid)
    seen_in_training = torch.cat(spy.seen[True][:3])  # the first epoch's three batches
    assert not any(torch.isclose(row, torch.from_numpy(x[:150])).all(dim=1).any() for row in seen_in_training)
    assert all(torch.equal(batch, torch.from_numpy(x[150:])) for batch in spy.seen[False])  # validation: untouched
    spy.seen[False].clear()
    network.predict(valid)
    assert torch.equal(spy.seen[False][0], torch.from_numpy(x[150:]))  # prediction: untouched
