"""The sampling contract: a generative model samples in its trained units, quanta returns data units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.tasks.regression import Regression
from quanta.train.config import TrainConfig
from quanta.train.network import Network

pytestmark = pytest.mark.usefixtures("one_thread")


class Centre(torch.nn.Module):
    """A regressor that also 'generates': the mean of the standardised inputs plus a condition offset."""

    conditions = ("energy",)
    inputs = ("x", "energy")

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, x, energy):
        return self.linear(x)

    def sample(self, n, condition, generator):
        noise = torch.randn(n, 3, generator=generator, device=condition["energy"].device)
        return 0.0 * noise + condition["energy"][:, None] * torch.tensor([1.0, 0.0, 0.0])


def data(n: int = 400) -> Dataset:
    rng = np.random.default_rng(0)
    x = (100 + 20 * rng.normal(size=(n, 3))).astype(np.float32)
    return Dataset({"x": x, "y": x[:, 0].copy(), "energy": rng.uniform(1, 2, n).astype(np.float32)}, name="d")


def network() -> Network:
    torch.manual_seed(0)
    d = data()
    return Network(Centre(), Regression(), TrainConfig(epochs=1, progress=False)).fit(d), d


def test_samples_come_back_in_the_units_of_the_data():
    net, d = network()
    samples = net.sample(5, {"energy": 0.0})
    assert samples.shape == (5, 3) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, np.broadcast_to(d.x.mean(axis=0), (5, 3)), rtol=1e-5)
    one_sigma = net.sample(2, {"energy": np.array([1.0, 1.0])})[:, 0]
    np.testing.assert_allclose(one_sigma, d.x[:, 0].mean() + d.x[:, 0].std(), rtol=1e-4)
    assert net.generates and net.conditions == ("energy",)


@pytest.mark.parametrize(("n", "condition", "message"), [
    (0, {"energy": 1.0}, "sample: n must be an integer >= 1, received 0"),
    (3, {}, "sample: the model is conditioned on energy; give energy (e.g. condition={'energy': 50.0})"),
    (3, {"energy": 1.0, "charge": 1}, "sample: condition 'charge' is not one the model was trained on; "
                                      "allowed: energy"),
    (3, {"energy": [1.0, 2.0]}, "sample: condition energy must be one finite value or 3 of them, "
                                "received shape (2,)"),
])
def test_bad_sampling_requests_are_one_line_errors(n, condition, message):
    net, _ = network()
    with pytest.raises(UserError) as error:
        net.sample(n, condition)
    assert str(error.value) == message


def test_a_model_that_does_not_generate_says_so():
    torch.manual_seed(0)
    net = Network(torch.nn.Linear(3, 1), Regression(), TrainConfig(epochs=1, progress=False)).fit(data())
    assert not net.generates
    with pytest.raises(UserError, match=r"^Linear does not generate samples; sampling needs a generative model"):
        net.sample(3)
