"""The variational autoencoder learns a distribution, samples it in the data's units, follows its condition,
interpolates and does latent arithmetic; beta weighs the KL term; training resumes bit-for-bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import Dataset
from quanta.models.vae import VAE
from quanta.tasks.generation import Generation
from quanta.train.callbacks import StopAfter
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingInterrupted
from quanta.train.network import Network
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def correlated(n: int, seed: int = 0, rho: float = 0.8) -> np.ndarray:
    """Two Gaussian variables of mean 100, standard deviation 20 and correlation ``rho``."""
    z = np.random.default_rng(seed).normal(size=(n, 2))
    return (100 + 20 * np.c_[z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]]).astype(np.float32)


def trained(data: Dataset, beta: float = 0.05, epochs: int = 8, batch_size: int = 16, **params) -> Network:
    torch.manual_seed(0)
    model = VAE.for_data(data.shapes, 1, **{"latent": 2, "hidden": (32, 32), **params})
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=5e-3, patience=0, progress=False)
    train, valid = data.subset(np.arange(len(data) - 400)), data.subset(np.arange(len(data) - 400, len(data)))
    return Network(model, Generation(beta=beta), config, spec=None).fit(train, valid)


def test_samples_match_the_mean_and_covariance_of_the_data_in_its_own_units():
    data = Dataset({"x": correlated(1600)}, name="gauss")
    net = trained(data)  # beta 0.05: an implied likelihood variance of 0.025, below the data's 0.2 and 1.8
    samples = net.sample(4000, seed=3)
    assert samples.shape == (4000, 2) and samples.dtype == np.float32
    # the standardisation is undone: mean 100 and standard deviation 20, correlation 0.8
    # (measured with 3 seeds: means within 0.8 of 100, deviations 0.91-0.95 of 20, correlations 0.78-0.82)
    assert np.all(np.abs(samples.mean(axis=0) - 100) < 1.5)  # 0.075 sigma
    assert np.all(np.abs(samples.std(axis=0) / 20 - 0.95) < 0.08)  # decoder means: a little short of 20
    assert abs(np.corrcoef(samples.T)[0, 1] - 0.8) < 0.05
    reconstruction = [h["valid_reconstruction"] for h in net.history]
    assert reconstruction[-1] < reconstruction[0] / 3  # the reconstruction error falls as it learns
    assert np.array_equal(net.sample(4000, seed=3), samples)  # the same seed, the same samples


def test_beta_weighs_the_kl_term():
    data = Dataset({"x": correlated(1400, seed=1)}, name="gauss")
    sharp, smooth = trained(data, beta=0.05, epochs=6), trained(data, beta=3.0, epochs=6)
    sharp_end, smooth_end = sharp.history[-1], smooth.history[-1]
    # a small beta spends KL on a precise code; a large one keeps the code near the prior
    assert sharp_end["valid_kl"] > 2 * smooth_end["valid_kl"]
    assert sharp_end["valid_reconstruction"] < smooth_end["valid_reconstruction"] / 5
    assert sharp_end["valid_loss"] == pytest.approx(
        sharp_end["valid_reconstruction"] + 0.05 * sharp_end["valid_kl"], rel=1e-4)


def conditioned(n: int, seed: int = 2) -> Dataset:
    """x = (3 log E, -2 log E) + noise 0.3, E log-uniform in [1, 10]: the mean follows the condition."""
    rng = np.random.default_rng(seed)
    energy = np.exp(rng.uniform(0, np.log(10), n)).astype(np.float32)
    x = (np.log(energy)[:, None] * np.array([3.0, -2.0]) + 0.3 * rng.normal(size=(n, 2))).astype(np.float32)
    return Dataset({"x": x, "energy": energy}, name="conditioned")


def test_conditional_samples_follow_the_condition_through_quanta_fit():
    run = quanta.fit("vae", conditioned(1500), task="generation", task_params={"beta": 0.1},
                     params={"latent": 2, "hidden": [32, 32], "condition": "energy"},
                     epochs=10, batch_size=64, lr=3e-3, patience=0)
    assert run.result.estimator.conditions == ("energy",)
    for energy in (1.5, 8.0):
        samples = run.sample(2000, {"energy": energy}, seed=1)
        truth = np.log(energy) * np.array([3.0, -2.0])
        assert np.all(np.abs(samples.mean(axis=0) - truth) < 0.25), (energy, samples.mean(axis=0))
        assert np.all(samples.std(axis=0) < 0.7)  # the noise (0.3) and the code's leftovers, not the spread of E
    assert "mean_score" in run.metrics["test"]
    reopened = quanta.load_run(run.directory)  # weights, buffers and the task's parameters come back
    assert np.array_equal(reopened.sample(100, {"energy": 3.0}, seed=4), run.sample(100, {"energy": 3.0}, seed=4))


def two_groups(n: int = 1600, seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Two clouds in 3D, group 0 at the origin and group 1 at (4, -4, 2), unit spread."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    x = (group[:, None] * np.array([4.0, -4.0, 2.0]) + rng.normal(size=(n, 3))).astype(np.float32)
    return x, group


def test_interpolation_ends_decode_near_their_inputs_and_the_turn_vector_turns_one_group_into_the_other():
    x, group = two_groups()
    net = trained(Dataset({"x": x}, name="groups"), beta=0.05, epochs=10, latent=3)
    model = net.model.eval()
    scaled = torch.from_numpy(net.transform.apply_arrays(x))
    a, b = scaled[group == 0][:20], scaled[group == 1][:20]
    path = model.interpolate(a, b, steps=5)
    assert path.shape == (20, 5, 3)
    assert (path[:, 0] - a).pow(2).sum(dim=1).mean() < 0.1  # standardised units: the data's spread is ~1
    assert (path[:, -1] - b).pow(2).sum(dim=1).mean() < 0.1
    middle = path[:, 2].mean(dim=0)
    assert torch.allclose(middle, (a.mean(dim=0) + b.mean(dim=0)) / 2, atol=0.3)
    vector = model.turn_vector(scaled[group == 0], scaled[group == 1])
    turned = model.apply_vector(scaled[group == 0], vector, 1.0)
    assert torch.allclose(turned.mean(dim=0), scaled[group == 1].mean(dim=0), atol=0.15)
    assert torch.allclose(model.apply_vector(a, vector, 0.0), path[:, 0])


def showers(n: int = 1200, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Toy showers ``[N, 1, 2, 3, 3]``: one profile (half of its cells empty) times an energy
    log-uniform in [1, 100], each cell smeared by 10 %; and the profile."""
    rng = np.random.default_rng(seed)
    profile = np.array([0, 0.1, 0, 0.2, 1, 0.3, 0, 0.1, 0, 0, 0.05, 0, 0.1, 0.5, 0.2, 0, 0.05, 0],
                       np.float32).reshape(1, 2, 3, 3)
    energy = np.exp(rng.uniform(0, np.log(100), n))[:, None, None, None, None]
    cells = np.maximum(energy * profile * (1 + 0.1 * rng.normal(size=(n, 1, 2, 3, 3))), 0)
    return cells.astype(np.float32), profile


def test_log_representation_reconstructs_raw_energies_and_generates_non_negative_cells_with_exact_zeros():
    cells, profile = showers()
    net = trained(Dataset({"x": cells}, name="cells"), beta=0.5, epochs=6, representation="log", hidden=(32,))
    model = net.model.eval()
    # the model holds the standardisation, spread over every cell, to work on the raw energies
    assert torch.allclose(model.readout.input_mean, torch.full((18,), float(net.transform.mean_[0])))
    scaled = torch.from_numpy(net.transform.apply_arrays(cells[:50]))
    with torch.no_grad():
        decoded = net.transform.invert_arrays(model.decode(model.encode(scaled)[0]).numpy())
    totals, truth = decoded.sum(axis=(1, 2, 3, 4)), cells[:50].sum(axis=(1, 2, 3, 4))
    assert np.median(np.abs(totals / truth - 1)) < 0.1  # energies from 1 to 100 through log(1 + E / 0.01)
    samples = net.sample(500, seed=2)
    assert samples.shape == (500, 1, 2, 3, 3) and samples.min() >= 0
    assert (samples[:, profile == 0] == 0).mean() > 0.2  # measured 0.35: the decoder's "nothing" is exactly 0


def network(config: TrainConfig) -> Network:
    torch.manual_seed(0)
    return Network(VAE((2,), latent=2, hidden=(16,)), Generation(beta=0.5), config, spec=None)


def test_a_stopped_and_resumed_vae_equals_an_uninterrupted_one(tmp_path):
    data = Dataset({"x": correlated(600, seed=6)}, name="gauss")
    train, valid = data.subset(np.arange(500)), data.subset(np.arange(500, 600))
    config = TrainConfig(epochs=4, batch_size=50, lr=0.01, patience=0, progress=False)
    full = network(config).fit(train, valid, directory=tmp_path / "full")
    with pytest.raises(TrainingInterrupted):
        network(config).fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(2)])
    torch.manual_seed(99)  # the reparameterisation noise comes from the checkpoint's RNG state
    resumed = network(config).fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h["valid_loss"] for h in resumed.history] == [h["valid_loss"] for h in full.history]


@pytest.mark.parametrize("params, message", [
    ("{latent: 0}", "methods[0].params: latent must be a positive integer; received 0"),
    ("{representation: linear}", "methods[0].params: representation must be one of standardised, log; "
                                 "received 'linear'"),
    ("{condition: energi}", "vae: condition 'energi' is not an array of the data besides x; arrays: energy"),
])
def test_bad_vae_parameters_are_one_line_errors(tmp_path, params, message):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", **{name: rng.normal(size=60).astype(np.float32) for name in "abc"},
             energy=np.ones(60, np.float32))
    (tmp_path / "e.yaml").write_text(
        "name: bad\ntask: generation\n"
        "data: {source: files, paths: [d.npz], features: [a, b, c], arrays: {energy: energy}}\n"
        f"methods:\n  - {{name: v, model: vae, params: {params}, train: {{epochs: 1}}}}\n")
    result = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"quanta: error: {message}"
    assert "Traceback" not in result.stderr


def test_a_learned_decoder_variance_draws_what_the_code_cannot_hold():
    rng = np.random.default_rng(4)
    x = np.c_[rng.normal(size=3000), 0.5 * rng.normal(size=3000)].astype(np.float32)  # independent
    data = Dataset({"x": x}, name="two")
    spreads = {}
    for likelihood in ("gaussian", "heteroscedastic"):
        net = trained(data, beta=1.0, epochs=10, batch_size=64, latent=1, likelihood=likelihood)
        spreads[likelihood] = net.sample(4000, seed=1).std(axis=0) / x.std(axis=0)
    # one code dimension holds one variable: the decoder's mean alone leaves the other nearly constant
    assert spreads["gaussian"].min() < 0.5
    assert np.all((spreads["heteroscedastic"] > 0.75) & (spreads["heteroscedastic"] < 1.3)), spreads


def test_a_zero_inflated_likelihood_fires_sparse_cells_as_often_as_the_data():
    rng = np.random.default_rng(5)
    energy = rng.exponential(0.2, size=(3000, 6))
    fires = rng.random((3000, 6)) < np.array([0.9, 0.6, 0.3, 0.3, 0.1, 0.05])  # how often each cell fires
    data = Dataset({"x": np.where(fires, 0.02 + energy, 0.0).astype(np.float32)}, name="cells")
    rates = {}
    for likelihood in ("gaussian", "zero_inflated"):
        net = trained(data, beta=1.0, epochs=10, batch_size=64, latent=2, likelihood=likelihood,
                      representation="log", threshold=0.017)
        rates[likelihood] = (net.sample(4000, seed=1) > 0).mean(axis=0)
    wanted = fires.mean(axis=0)
    assert np.abs(rates["zero_inflated"] - wanted).max() < 0.05, rates
    assert rates["gaussian"][4:].max() < 0.02, rates  # a sparse cell's mean falls below the threshold
