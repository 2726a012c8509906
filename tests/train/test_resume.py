"""An interrupted and resumed training ends exactly where an uninterrupted one does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import from_arrays
from quanta.experiment import run_experiment
from quanta.tasks.binary import Binary
from quanta.train.callbacks import StopAfter
from quanta.train.checkpoint import load_checkpoint
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingInterrupted
from quanta.train.network import Network
from tests.conftest import xor_clouds


def network(config: TrainConfig) -> Network:
    torch.manual_seed(0)
    model = quanta.models.MODELS.get("mlp")(2, 1, hidden=(16, 16), dropout=0.2)
    return Network(model, Binary(), config)


def weights(net: Network) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.model.state_dict().items()}


def test_network_resume_is_bit_for_bit(tmp_path):
    x, y = xor_clouds(800)
    data = from_arrays(x, y.astype(np.float32))
    train, valid = data.subset(np.arange(600)), data.subset(np.arange(600, 800))
    config = TrainConfig(epochs=6, batch_size=32, optimizer="sgd", lr=0.05, schedule="step", step_size=2,
                         gamma=0.5, patience=0, progress=False)
    full = network(config).fit(train, valid, directory=tmp_path / "full")
    interrupted = network(config)
    with pytest.raises(TrainingInterrupted) as stop:
        interrupted.fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(3)])
    assert stop.value.epoch == 3 and stop.value.checkpoint == tmp_path / "cut" / "checkpoint.safetensors"
    _, meta = load_checkpoint(stop.value.checkpoint)
    assert meta["epoch"] == 3
    torch.manual_seed(123)  # whatever happened in between must not matter
    resumed = network(config).fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in weights(full).items():
        assert torch.equal(value, weights(resumed)[key]), key
    assert [h["valid_loss"] for h in resumed.history] == [h["valid_loss"] for h in full.history]
    lines = (tmp_path / "cut" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 6


@quanta.data.register("xor_resume_test")
def xor_source(size: int = 600, seed: int = 1):
    """XOR clouds (test source)."""
    x, y = xor_clouds(size, seed)
    return from_arrays(x, y, name="xor")


def test_experiment_resume_matches_uninterrupted(tmp_path):
    experiment = {"name": "resume", "task": "binary", "data": {"source": "xor_resume_test"},
                  "methods": [{"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 20}},
                              {"name": "net", "model": "mlp", "params": {"hidden": [8], "dropout": 0.1},
                               "train": {"epochs": 5, "patience": 2, "progress": False}}]}
    full = run_experiment(experiment, out=tmp_path / "a", verbose=False)
    with pytest.raises(TrainingInterrupted):
        run_experiment(experiment, out=tmp_path / "b", verbose=False, callbacks=[StopAfter(2)])
    (cut,) = (tmp_path / "b" / "resume").iterdir()
    assert not (cut / "net" / "metrics.json").exists()
    resumed = run_experiment(resume=cut, verbose=False)
    assert resumed.directory == cut
    assert resumed.metrics == full.metrics
    a, _ = load_checkpoint(full.directory / "net" / "model.safetensors")
    b, _ = load_checkpoint(cut / "net" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (cut / "report.html").exists()


def test_resume_after_early_stopping_trains_no_further(tmp_path):
    """Killed right after the checkpoint of the epoch where early stopping fires: resume only finishes."""
    x, y = xor_clouds(800)
    data = from_arrays(x, y.astype(np.float32))
    train, valid = data.subset(np.arange(600)), data.subset(np.arange(600, 800))
    config = TrainConfig(epochs=60, batch_size=64, lr=0.05, patience=2, progress=False)
    full = network(config).fit(train, valid, directory=tmp_path / "run")
    stopped = len(full.history)
    assert stopped < 60  # early stopping fired
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoint.safetensors")
    assert meta["epoch"] == stopped and meta["should_stop"] is True
    resumed = network(config).fit(train, valid, directory=tmp_path / "run", resume=True)
    assert len(resumed.history) == stopped
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == stopped
    for key, value in weights(full).items():  # the best epoch's weights, restored again
        assert torch.equal(value, weights(resumed)[key]), key
