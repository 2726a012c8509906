"""Model ``pretrained``: an autoencoder pre-trained on unlabelled samples, a new head fine-tuned on few labels."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from quanta.data.dataset import Dataset, from_arrays
from quanta.experiment import run_experiment
from quanta.methods.codes import encoded
from quanta.models.pretrained import Pretrained
from quanta.train.network import Network
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def clusters(n: int = 3000, seed: int = 0) -> Dataset:
    """Six Gaussian clouds in 10 dimensions (shifted and scaled), alternately of class 0 and 1."""
    rng = np.random.default_rng(100 + seed)
    centres = 2.0 * rng.normal(size=(6, 10))
    cloud = rng.integers(0, 6, n)
    x = 3.0 * (centres[cloud] + rng.normal(size=(n, 10))) + 5.0
    return from_arrays(x.astype(np.float32), (cloud % 2).astype(np.int64), name="clusters")


def saved_autoencoder(shape: tuple[int, ...] = (5,), code: int = 3) -> str:
    """The folder of an untrained ``autoencoder`` network saved as a run saves one (for export tests)."""
    from quanta.data.transforms import Standardize
    from quanta.tasks import TASKS
    from quanta.train.config import TrainConfig
    from quanta.train.network import build_model

    folder = Path(tempfile.mkdtemp(prefix="quanta-pretrained-"))
    torch.manual_seed(0)
    params = {"code": code, "hidden": [8]}
    model = build_model("autoencoder", params, {"x": shape}, 0, where="autoencoder")
    spec = {"model": "autoencoder", "params": params, "shapes": {"x": list(shape)}, "out_features": 0}
    network = Network(model, TASKS.create("autoencoding"), TrainConfig(device="cpu", progress=False), spec=spec)
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(32, *shape)).astype(np.float32)
    network.transform = Standardize().fit(Dataset({"x": x}))
    network.save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> Path:
    """An autoencoder pre-trained (task autoencoding, no labels) on every training sample."""
    out = tmp_path_factory.mktemp("pretraining")
    config = {"name": "pretraining", "task": "autoencoding", "seed": 1, "output": str(out),
              "data": {"source": "arrays"}, "train": {"epochs": 20, "batch_size": 128, "progress": False},
              "methods": [{"name": "ae", "model": "autoencoder", "params": {"code": 4, "hidden": [32]}}]}
    run = run_experiment(config, data=clusters(), verbose=False, report=False)
    return run.directory / "ae"


def fine_tuning(path: Path, **params) -> dict:
    out = path.parent.parent.parent / "fine-tuning"  # beside the pre-training runs, never the working folder
    return {"name": "fine", "task": "semi_supervised", "seed": 2, "output": str(out), "data": {"source": "arrays"},
            "task_params": {"labelled": 0.02, "unlabelled_weight": 0},
            "train": {"epochs": 10, "batch_size": 128, "lr": 0.003, "progress": False},
            "methods": [{"name": "fine_tuned", "model": "pretrained", "params": {"path": str(path), **params}}]}


def test_fine_tuning_a_pretrained_autoencoder_learns_from_two_percent_of_labels(autoencoder):
    run = run_experiment(fine_tuning(autoencoder, head=[16]), data=clusters(), verbose=False, report=False)
    assert run.metrics["fine_tuned"]["test"]["auc"] > 0.95
    model = run.results["fine_tuned"].estimator.model
    assert not any(p.requires_grad for p in model.encoder.decoder.parameters())  # encode leaves it out
    assert any(p.requires_grad for p in model.encoder.encoder.parameters())


def test_a_frozen_encoder_keeps_its_pretrained_weights(autoencoder):
    run = run_experiment(fine_tuning(autoencoder, head=[], freeze=True), data=clusters(), verbose=False,
                         report=False)
    source = Network.load(autoencoder, device="cpu").model.state_dict()
    tuned = run.results["fine_tuned"].estimator.model
    for name, value in tuned.encoder.state_dict().items():
        torch.testing.assert_close(value, source[name])
    assert [n for n, p in tuned.named_parameters() if p.requires_grad] == ["head.0.weight", "head.0.bias"]
    assert run.metrics["fine_tuned"]["test"]["auc"] > 0.9  # a linear probe of the codes


def test_the_encoder_sees_its_inputs_standardised_as_in_pretraining(autoencoder):
    data = clusters(200, seed=5)
    source = Network.load(autoencoder, device="cpu")
    model = Pretrained.for_data({"x": (10,)}, 1, path=str(autoencoder)).eval()
    mean, scale = data.x.mean(0) + 1.0, data.x.std(0) * 2.0  # another standardisation than pre-training's
    model.set_scalings(mean, scale)
    x = torch.as_tensor((data.x - mean) / scale)
    with torch.no_grad():
        codes = model.encoder.encode((x * model.input_scale + model.input_mean - model.source_mean)
                                     / model.source_scale)
    np.testing.assert_allclose(codes.numpy(), encoded(source, data), rtol=1e-4, atol=1e-4)


def test_a_path_that_is_not_a_network_folder_is_refused_before_any_work(tmp_path):
    np.savez(tmp_path / "d.npz", x=clusters(100).x, y=clusters(100).y)
    (tmp_path / "e.yaml").write_text(
        "name: bad\ntask: semi_supervised\ndata: {source: files, paths: [d.npz]}\n"
        "methods:\n  - {name: m, model: pretrained, params: {path: d.npz}}\n")
    result = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "quanta: error: methods[0].params: path must be the folder of a trained network (RUN_DIR/<method>, "
        "with its model.safetensors) whose model has encode(x); received 'd.npz'"]
    assert not (tmp_path / "runs").exists()


def test_a_network_without_encode_is_a_one_line_error(tmp_path):
    config = {"name": "mlp", "task": "binary", "output": str(tmp_path), "data": {"source": "arrays"},
              "train": {"epochs": 1, "progress": False}, "methods": [{"name": "mlp", "model": "mlp"}]}
    folder = run_experiment(config, data=clusters(200), verbose=False, report=False).directory / "mlp"
    with pytest.raises(Exception, match=r"^pretrained: the network at .* \(MLP\) has no encode\(x\); "
                                        r"pre-train an encoder"):
        Pretrained(path=str(folder))
