"""The adversarial objectives of the generation task: GAN and WGAN-GP learn, count their steps, resume
bit-for-bit, and stop a diverging critic or a collapsed generator with a one-line error naming the method."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.models.gan import GAN
from quanta.tasks.adversarial import COUNTER, PROJECTIONS, Adversarial
from quanta.tasks.generation import Generation
from quanta.train.callbacks import StopAfter
from quanta.train.checkpoint import load_checkpoint
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingInterrupted
from quanta.train.network import Network

pytestmark = pytest.mark.usefixtures("one_thread")

MEAN = np.array([1.0, -2.0])
COVARIANCE = np.array([[4.0, 1.6], [1.6, 1.0]])  # standard deviations 2 and 1, correlation 0.8


def gaussian_parts(n: int = 2000, seed: int = 0):
    x = np.random.default_rng(seed).multivariate_normal(MEAN, COVARIANCE, n).astype(np.float32)
    data = from_arrays(x)
    cut = int(0.8 * n)
    return data.subset(np.arange(cut)), data.subset(np.arange(cut, n))


def small_gan() -> GAN:
    torch.manual_seed(0)
    return GAN(input_shape=(2,), latent=4, generator_hidden=(32, 32), critic_hidden=(32, 32))


def test_the_original_gan_learns_the_mean_and_covariance_of_a_correlated_gaussian():
    """Non-saturating GAN, one discriminator step per generator step, 20 epochs of 50 batches (~3 s of CPU).

    Tolerances: means within 0.25 standard deviations, standard deviations
    within 20 %, the correlation (0.8) within 0.15. Trained without a
    validation part, the network keeps its last epoch (the cosine schedule's
    end, where the oscillation around the equilibrium has come to rest).
    """
    train, _ = gaussian_parts()
    torch.manual_seed(0)
    model = GAN(input_shape=(2,), latent=4, generator_hidden=(64, 64), critic_hidden=(64, 64))
    config = TrainConfig(epochs=20, batch_size=32, lr=1e-3, betas=(0.5, 0.9), schedule="cosine", patience=0,
                         device="cpu", progress=False)
    task = Generation(objective="gan", critic_steps=1)
    network = Network(model, task, config, spec=None).fit(train)
    assert set(network.trainer.state.optimizers) == {"generator", "critic"}
    samples = network.sample(4000, seed=1)
    scale = np.sqrt(np.diag(COVARIANCE))
    assert np.all(np.abs(samples.mean(axis=0) - MEAN) < 0.25 * scale), samples.mean(axis=0)
    assert np.all(np.abs(samples.std(axis=0) / scale - 1) < 0.2), samples.std(axis=0)
    assert abs(np.corrcoef(samples.T)[0, 1] - 0.8) < 0.15, np.corrcoef(samples.T)[0, 1]


def test_the_critic_steps_on_every_batch_and_the_generator_on_every_critic_steps_th():
    train, _ = gaussian_parts(250)  # 200 training rows in batches of 20: 10 batches per epoch
    config = TrainConfig(epochs=2, batch_size=20, patience=0, device="cpu", progress=False)
    network = Network(small_gan(), Generation(critic_steps=3), config, spec=None).fit(train)
    optimizers = network.trainer.state.optimizers
    steps = {name: int(next(iter(o.state.values()))["step"]) for name, o in optimizers.items()}
    assert steps == {"critic": 20, "generator": 6}  # batches 3, 6, ..., 18 of 20 counted across epochs
    assert optimizers["critic"].param_groups[0][COUNTER] == 20


def test_validation_compares_the_same_generated_samples_every_time_and_scores_minus_the_critic():
    train, valid = gaussian_parts(300)
    task = Generation(objective="wgan_gp")
    model = small_gan()
    batch = {"x": torch.as_tensor(valid.arrays["x"])}
    with torch.no_grad():
        first, again = task.forward(model, batch, ("x",)), task.forward(model, batch, ("x",))
        critic = model(batch["x"]).reshape(-1)
    assert first.shape == (len(valid), 2 + 2 * PROJECTIONS) and torch.equal(first, again)
    assert torch.equal(task.scores(first), -critic)  # high for samples the critic finds unlike the data
    metrics = task.metrics(first, None)
    assert set(metrics) == {"loss", "sliced_wasserstein", "wasserstein", "critic_real"}
    assert task.monitor == "sliced_wasserstein" and metrics["loss"] == metrics["sliced_wasserstein"]
    assert torch.isclose(metrics["wasserstein"], (first[:, 1] - first[:, 0]).mean())
    gan = Adversarial(task, wasserstein=False).metrics(first, None)
    assert torch.isclose(gan["js_divergence"], (math.log(4.0) - gan["discriminator_loss"]) / 2)


def test_the_sliced_wasserstein_distance_is_zero_for_the_data_and_the_shift_of_a_shifted_copy():
    x = torch.as_tensor(gaussian_parts(500)[0].arrays["x"])
    objective = Adversarial(Generation(), wasserstein=True)
    directions = torch.randn(2, PROJECTIONS)
    directions = directions / directions.norm(dim=0)
    values = torch.zeros(len(x), 2)

    def distance(fake: torch.Tensor) -> float:
        rows = torch.cat([values, x @ directions, fake @ directions], dim=1)
        return float(objective.metrics(rows)["sliced_wasserstein"])

    assert distance(x[torch.randperm(len(x))]) == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([0.6, 0.8])  # a unit shift moves each projection by its cosine with the shift
    assert distance(x + shift) == pytest.approx(float((shift @ directions).abs().mean()), rel=1e-4)


@pytest.mark.parametrize("objective", ["gan", "wgan_gp"])
def test_adversarial_training_resumes_bit_for_bit(tmp_path, objective):
    train, valid = gaussian_parts(300)
    config = TrainConfig(epochs=4, batch_size=32, lr=1e-3, schedule="step", step_size=2, gamma=0.5, patience=0,
                         device="cpu", progress=False)

    def network() -> Network:
        return Network(small_gan(), Generation(objective=objective, critic_steps=3), config, spec=None)

    full = network().fit(train, valid, directory=tmp_path / "full")
    with pytest.raises(TrainingInterrupted):
        network().fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(2)])
    tensors, meta = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert set(meta["optimizer"]) == {"generator", "critic"}
    torch.manual_seed(99)  # the global RNG (latents, interpolation weights) comes from the checkpoint
    resumed = network().fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for name, optimizer in full.trainer.state.optimizers.items():
        other = resumed.trainer.state.optimizers[name]
        assert optimizer.param_groups[0].get(COUNTER) == other.param_groups[0].get(COUNTER), name
        for index, values in optimizer.state_dict()["state"].items():
            for key, value in values.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(other.state_dict()["state"][index][key]))
    assert [h["valid_loss"] for h in resumed.history] == [h["valid_loss"] for h in full.history]


def test_a_diverging_critic_stops_training_with_a_one_line_error_naming_the_method():
    train, _ = gaussian_parts(400)
    with pytest.raises(UserError, match=r"^critic_blowup: the critic diverged: its (values reached \S+, beyond "
                                        r"±1e\+06|loss became \S+), at training batch \d+; try a smaller lr"):
        quanta.fit("gan", train, task="generation", name="critic_blowup", task_params={"objective": "wgan_gp"},
                   params={"generator_hidden": [16], "critic_hidden": [16]}, optimizer="sgd", momentum=0.0,
                   lr=1e6, epochs=3, batch_size=50, device="cpu", progress=False)


def test_a_collapsed_generator_stops_training_with_a_one_line_error_naming_the_method():
    """A generator without hidden layers whose weights are frozen at zero draws one point, its bias."""
    train, _ = gaussian_parts(400)
    model = GAN(input_shape=(2,), latent=4, generator_hidden=(), critic_hidden=(16,))
    torch.nn.init.zeros_(model.generator.layers[0].weight)
    with pytest.raises(UserError, match=r"^gan: the generator collapsed: its samples spread 0 times as wide as "
                                        r"the data's \(below 0.01\) at training batch 51; try a smaller lr, "
                                        r"another seed or objective wgan_gp$"):
        quanta.fit(model, train, task="generation", task_params={"objective": "gan", "critic_steps": 1},
                   freeze=["generator.layers.0.weight"], epochs=10, batch_size=20, device="cpu",
                   progress=False)  # watched after COLLAPSE_WARMUP = 50 generator steps


def test_an_experiment_trains_and_scores_both_objectives_side_by_side(tmp_path):
    train, _ = gaussian_parts(300)
    for objective, metric in (("gan", "js_divergence"), ("wgan_gp", "wasserstein")):
        run = quanta.fit("gan", train, task="generation", task_params={"objective": objective},
                         params={"generator_hidden": [16], "critic_hidden": [16]}, epochs=2, batch_size=64,
                         device="cpu", progress=False)
        assert all(math.isfinite(h[f"valid_{metric}"]) for h in run.history)
        assert run.predict(train).shape == (len(train),)
        assert run.sample(5, seed=2).shape == (5, 2)
