"""independent_gaussians: per-element Gaussians reproduce the data's means and spreads, per condition bin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.methods.independent_gaussians import IndependentGaussians
from quanta.tasks.base import Task
from quanta.tasks.evaluation import Evaluation


class Unlabelled(Task):
    """A stand-in unsupervised task: the method's fit asks only whether targets are needed."""

    name = "unlabelled"
    evaluation = Evaluation(lambda y, score, weight=None: {"mean_score": float(np.mean(score))},
                            "anomaly_scores", needs_targets=False)


def showers(n: int = 4000, seed: int = 0) -> Dataset:
    """Cells [n, 2, 3] of mean ~100 whose mean grows with ``energy`` (uniform 10 to 100) and spreads differ."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(10, 100, n)
    profile = np.array([[1.0, 0.6, 0.3], [0.2, 0.1, 0.05]])
    spread = np.array([[2.0, 1.0, 0.5], [4.0, 3.0, 0.2]])
    x = 80 + energy[:, None, None] * profile + spread * rng.normal(size=(n, 2, 3))
    return Dataset({"x": x.astype(np.float32), "energy": energy.astype(np.float32)}, name="showers")


def fitted(data: Dataset, **params) -> IndependentGaussians:
    return METHODS.create("independent_gaussians", **params).fit(data, None, Unlabelled())


def test_samples_have_the_means_and_spreads_of_every_element():
    data = showers()
    method = fitted(data)
    samples = method.sample(40_000, seed=3)
    assert samples.shape == (40_000, 2, 3) and samples.dtype == np.float32
    mean, std = data.x.mean(axis=0), data.x.std(axis=0)
    assert 100 < mean.mean() < 140  # in the data's own units, not standardised
    # 40,000 draws: the mean is off by ~0.005 std, the std by ~0.4 %
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 0.03 * std)
    assert np.all(np.abs(samples.std(axis=0) / std - 1) < 0.03)
    # independent elements: the correlation the energy gives the data is gone
    flat = samples.reshape(len(samples), -1)
    assert abs(np.corrcoef(flat[:, 0], flat[:, 1])[0, 1]) < 0.03
    assert np.corrcoef(data.x[:, 0, 0], data.x[:, 0, 1])[0, 1] > 0.9


def test_conditional_bins_follow_the_condition():
    data = showers()
    method = fitted(data, condition="energy", bins=9)
    assert method.conditions == ("energy",) and len(method.edges_) == 8
    low = method.sample(5000, {"energy": 20.0}, seed=1)
    high = method.sample(5000, {"energy": 80.0}, seed=1)
    # each bin spans ~10 GeV: its mean cell is that of the data in the bin
    for value, samples in ((20.0, low), (80.0, high)):
        which = np.searchsorted(method.edges_, value, side="right")
        rows = np.searchsorted(method.edges_, data["energy"], side="right") == which
        expected = data.x[rows].mean(axis=0)
        assert np.all(np.abs(samples.mean(axis=0) - expected) < 0.1 * data.x[rows].std(axis=0) + 1e-3)
    assert high[:, 0, 0].mean() - low[:, 0, 0].mean() > 50  # 60 GeV apart times profile 1.0, binned
    # one value per sample: each sample draws from its own bin
    energies = np.where(np.arange(4000) % 2 == 0, 20.0, 80.0)
    mixed = method.sample(4000, {"energy": energies}, seed=2)
    assert mixed[0::2, 0, 0].mean() < 110 < mixed[1::2, 0, 0].mean()
    # beyond the training range: the end bins
    assert np.allclose(method.sample(10, {"energy": 1e6}, seed=4), method.sample(10, {"energy": 99.9}, seed=4))


def test_the_score_is_the_gaussian_negative_log_likelihood():
    data = showers(500)
    method = fitted(data)
    score = method.predict(data)
    x = data.x.reshape(len(data), -1).astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    expected = (0.5 * ((x - mean) / std) ** 2 + np.log(std) + 0.5 * math.log(2 * math.pi)).sum(axis=1)
    assert score.shape == (500,) and np.allclose(score, expected, rtol=1e-5)
    odd = data.with_arrays(x=data.x + 5 * data.x.std(axis=0))
    assert np.all(method.predict(odd) > score.max())  # far from the data: less typical


def test_saved_and_loaded_it_draws_the_same_samples(tmp_path):
    method = fitted(showers(), condition="energy", bins=4)
    method.save(tmp_path)
    again = IndependentGaussians.load(tmp_path)
    assert again.conditions == ("energy",) and again.clip_min == 0.0
    first = method.sample(100, {"energy": 40.0}, seed=7)
    assert np.array_equal(again.sample(100, {"energy": 40.0}, seed=7), first)
    assert not np.array_equal(again.sample(100, {"energy": 40.0}, seed=8), first)
    assert np.array_equal(again.predict(showers(50, seed=1)), method.predict(showers(50, seed=1)))


def test_samples_are_clipped_at_clip_min():
    rng = np.random.default_rng(0)
    cells = np.maximum(rng.normal(0.2, 1.0, size=(3000, 5)), 0).astype(np.float32)  # zero-suppressed
    samples = fitted(Dataset({"x": cells})).sample(2000, seed=0)
    assert samples.min() == 0.0 and np.mean(samples == 0) > 0.2
    signed = Dataset({"x": cells - 1})
    with pytest.raises(UserError, match=r"^independent_gaussians: clip_min=0.0 but input element \d "
                                         r"reaches -1 in training; set clip_min: null for signed inputs, "
                                         r"or a lower bound$"):
        fitted(signed)
    assert fitted(signed, clip_min=None).sample(2000, seed=0).min() < -2


def test_a_constant_element_keeps_a_finite_likelihood():
    x = np.zeros((100, 3), np.float32)
    x[:, 0] = np.random.default_rng(0).normal(size=100)
    method = fitted(Dataset({"x": x}), clip_min=None)
    assert np.all(method.sample(50, seed=0)[:, 1:] == 0)
    assert np.all(np.isfinite(method.predict(Dataset({"x": x}))))


def test_condition_requests_are_checked_in_one_line():
    method = fitted(showers(300), condition="energy", bins=3)
    with pytest.raises(UserError, match=r"^sample: the method is conditioned on energy; give it "
                                         r"\(e.g. condition=\{'energy': 50.0\}\)$"):
        method.sample(10)
    with pytest.raises(UserError, match=r"^sample: condition 'eta' is not one the method was fitted on; "
                                         r"allowed: energy$"):
        method.sample(10, {"energy": 5.0, "eta": 1.0})
    with pytest.raises(UserError, match=r"^sample: condition energy must be one finite value or 10 of "
                                         r"them, received shape \(3,\)$"):
        method.sample(10, {"energy": [1.0, 2.0, 3.0]})
    with pytest.raises(UserError, match=r"^sample: n must be an integer >= 1, received 0$"):
        method.sample(0, {"energy": 5.0})
    with pytest.raises(UserError, match=r"^independent_gaussians.condition: the data set has no array "
                                         r"'pt'; it has: energy, x$"):
        fitted(showers(300), condition="pt")


def test_a_supervised_task_is_refused_through_the_api():
    import quanta

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)).astype(np.float32), rng.integers(0, 2, 200)
    with pytest.raises(UserError, match=r"^independent_gaussians: task 'binary' is not supported; this "
                                        r"generative baseline scores each sample by its negative "
                                        r"log-likelihood \(task: generation\)$"):
        quanta.fit("independent_gaussians", (x, y), task="binary", params={"clip_min": None})


class Chunked:
    """A stand-in streamed part: the rows of a data set in uneven chunks (as a stream yields them)."""

    streamed = True

    def __init__(self, data: Dataset, bounds: list[int]):
        self.data, self.bounds = data, bounds
        self.shapes = data.shapes

    def in_chunks(self):
        for start, stop in zip(self.bounds[:-1], self.bounds[1:], strict=True):
            yield self.data.subset(np.arange(start, stop))


def test_chunk_by_chunk_it_fits_what_it_fits_in_memory():
    data = showers(1000)
    whole = fitted(data, condition="energy", bins=5)
    chunked = METHODS.create("independent_gaussians", condition="energy", bins=5).fit(
        Chunked(data, [0, 7, 300, 301, 650, 1000]), None, Unlabelled())
    assert np.array_equal(chunked.edges_, whole.edges_)
    assert np.allclose(chunked.mean_, whole.mean_, rtol=1e-12)
    assert np.allclose(chunked.std_, whole.std_, rtol=1e-9)
    assert np.allclose(chunked.predict(Chunked(data, [0, 500, 1000])), whole.predict(data))
