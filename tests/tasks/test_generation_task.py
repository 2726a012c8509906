"""The generation task: one task under which generative models of different objectives are compared,
their per-sample scores evaluated (mean score, anomaly AUC against labels), bad input refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.evaluate.generation_scores import generation_score_metrics
from quanta.experiment import run_experiment
from quanta.models.mlp import MLP
from quanta.models.vae import VAE
from quanta.tasks import TASKS
from quanta.tasks.generation import Generation
from quanta.tasks.variational import Variational
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def test_score_metrics_give_the_weighted_mean_and_the_anomaly_auc_of_binary_labels():
    score = np.array([0.1, 0.2, 0.3, 0.9, 0.4])
    assert generation_score_metrics(None, score) == {"mean_score": pytest.approx(0.38)}
    weighted = generation_score_metrics(None, score, np.array([1, 1, 1, 0, 1]))
    assert weighted["mean_score"] == pytest.approx(0.25)
    labels = np.array([0, 0, 0, 1, 1])
    assert generation_score_metrics(labels, score)["anomaly_auc"] == pytest.approx(1.0)
    assert generation_score_metrics(1 - labels, score)["anomaly_auc"] == pytest.approx(0.0)
    # labels of three classes, real-valued targets or one class give no AUC
    for y in (np.array([0, 1, 2, 1, 0]), np.array([0.5, 1, 0, 1, 0]), np.zeros(5, np.int64)):
        assert set(generation_score_metrics(y, score)) == {"mean_score"}
    with pytest.raises(UserError, match=r"^score: 1 of 5 values are NaN or Inf$"):
        generation_score_metrics(None, np.array([0.1, np.nan, 0.3, 0.9, 0.4]))


def test_the_objective_is_the_models_own_unless_chosen_and_non_generative_models_are_refused():
    task = TASKS.create("generation", where="task_params")
    assert task.needs_targets is False and task.monitor == "loss" and task.goal("loss") == "min"
    vae = VAE((3,), latent=2, hidden=(8,))
    assert isinstance(task.objective_for(vae), Variational)
    assert task.objective_for(vae) is task.objective_for(vae)  # one objective per model
    with pytest.raises(UserError, match=r"^task 'generation': model MLP does not generate samples; "):
        task.objective_for(MLP(3, 1))
    with pytest.raises(UserError, match=r"^task 'generation': objective 'vae' trains a variational "
                                        r"autoencoder \(model vae\); model Zeros has no encoder and decoder$"):
        Generation(objective="vae").optimised_parts(Zeros())


class Zeros(torch.nn.Module):
    """A generative model without an encoder: it always draws zeros."""

    def sample(self, n, condition, generator):
        return torch.zeros(n, 3)


def manifold(n: int = 1000, seed: int = 0) -> Dataset:
    """Background on the line x1 = x0 (label 0) and 10 % anomalies of the same size on x1 = -x0 (label 1):
    only a model of the background's distribution tells them apart, not their distance from the origin."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.1).astype(np.int64)
    t = rng.normal(size=n)
    x = np.c_[t, np.where(label == 1, -t, t)] + 0.05 * rng.normal(size=(n, 2))
    return Dataset({"x": x.astype(np.float32), "y": label}, name="manifold")


def test_a_vae_and_a_gan_share_one_generation_task_each_with_its_objective(tmp_path):
    config = {"name": "generators", "task": "generation", "output": str(tmp_path), "data": {"source": "arrays"},
              "task_params": {"beta": 0.05},
              "train": {"epochs": 5, "batch_size": 32, "lr": 0.005, "patience": 0, "progress": False},
              "methods": [{"name": "vae", "model": "vae", "params": {"latent": 1, "hidden": [16]}},
                          {"name": "gan", "model": "gan", "task_params": {"objective": "gan"},
                           "train": {"epochs": 1}}]}
    run = run_experiment(config, data=manifold(), verbose=False, report=False)
    assert isinstance(run.results["vae"].estimator.task.objective_for(run.results["vae"].estimator.model),
                      Variational)
    assert run.results["gan"].estimator.task.objective == "gan"
    vae = run.metrics["vae"]["test"]
    # the saved score is the negative ELBO: anomalies off the learned line score high
    assert vae["anomaly_auc"] > 0.95 and vae["mean_score"] > 0
    history = [json.loads(line) for line in (run.directory / "vae" / "history.jsonl").read_text().splitlines()]
    assert {"valid_loss", "valid_reconstruction", "valid_kl"} <= set(history[-1])
    saved = np.load(run.directory / "vae" / "predictions.npz")
    assert saved["test_score"].shape == saved["test_y"].shape
    assert "anomaly_auc" in run.metrics["gan"]["test"]
    assert (run.directory / "vae" / "generated.json").exists()


@pytest.mark.parametrize("experiment, message", [
    ("task_params: {beta: -1}\nmethods:\n  - {name: v, model: vae}\n",
     "task_params: beta must be a number > 0; received -1"),
    ("task_params: {objective: diffusion}\nmethods:\n  - {name: v, model: vae}\n",
     "task_params: objective must be one of auto, vae, gan, wgan_gp; received 'diffusion'"),
    ("methods:\n  - {name: m, model: mlp, train: {epochs: 1}}\n",
     "task 'generation': model MLP does not generate samples; the task learns generative models (vae, gan), "
     "which draw new samples with sample(n, ...)"),
])
def test_bad_generation_input_is_a_one_line_error(tmp_path, experiment, message):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", **{name: rng.normal(size=60).astype(np.float32) for name in "abc"})
    (tmp_path / "e.yaml").write_text("name: bad\ntask: generation\n"
                                     "data: {source: files, paths: [d.npz], features: [a, b, c]}\n" + experiment)
    result = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"quanta: error: {message}"
    assert "Traceback" not in result.stderr
