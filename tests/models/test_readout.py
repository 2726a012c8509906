"""Generated samples pass the readout's zero suppression: nothing between 0 and the threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import Dataset
from quanta.models.readout import ZeroSuppression

pytestmark = pytest.mark.usefixtures("one_thread")


def test_values_below_the_threshold_read_zero_in_the_data_units():
    readout = ZeroSuppression((2, 3), threshold=0.5)
    readout.set_scalings(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))  # per last axis
    raw = torch.tensor([[[0.4, 0.6, -1.0], [2.0, 0.49, 0.5]]])
    standardised = (raw - torch.tensor([1.0, 2.0, 3.0])) / 2.0
    back = readout(standardised) * 2.0 + torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(back, torch.tensor([[[0.0, 0.6, 0.0], [2.0, 0.0, 0.5]]]), atol=1e-6)
    assert torch.equal(ZeroSuppression((3,), None)(standardised[0, 0][None]), standardised[0, 0][None])


def cells(n: int = 600) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.exponential(0.05, size=(n, 8)).astype(np.float32)
    x[x < 0.017] = 0.0  # the data's own zero suppression
    return Dataset({"x": x}, name="cells")


@pytest.mark.parametrize(("model", "params"), [
    ("vae", {"latent": 2, "hidden": [16], "threshold": 0.017}),
    ("gan", {"latent": 4, "generator_hidden": [16], "critic_hidden": [16], "threshold": 0.017}),
])
def test_generated_cells_are_zero_or_above_the_threshold(model, params):
    run = quanta.fit(model, cells(), task="generation", params=params, epochs=2, batch_size=64,
                     progress=False)
    samples = run.sample(2000, seed=3)
    assert not np.any((samples > 1e-6) & (samples < 0.017 - 1e-6))
    assert np.mean(np.abs(samples) < 1e-6) > 0.005  # exact zeros appear
    unsuppressed = quanta.fit(model, cells(), task="generation", params={**params, "threshold": None},
                              epochs=2, batch_size=64, progress=False).sample(2000, seed=3)
    assert np.any((unsuppressed > 1e-6) & (unsuppressed < 0.017 - 1e-6))
