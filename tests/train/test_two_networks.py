"""A task with two networks and two optimisers trains, and resumes bit-for-bit, with no change to the trainer.

The task is adversarial training against a nuisance ("learning to pivot",
Louppe, Kagan and Cranmer 2017, in miniature): a classifier separates XOR
clouds while an adversary tries to read the sign of x0 from the classifier's
output; the classifier is penalised by the adversary's success.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from quanta.data.dataset import from_arrays
from quanta.tasks.binary import Binary
from quanta.train.callbacks import StopAfter
from quanta.train.checkpoint import load_checkpoint
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingInterrupted
from quanta.train.network import Network
from tests.conftest import xor_clouds


class Pivot(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.classifier = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                              torch.nn.Linear(32, 1))
        self.adversary = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def forward(self, x):
        return self.classifier(x)


class AdversarialBinary(Binary):
    """Binary classification with an adversary on the nuisance sign(x0); two optimisers."""

    name = "adversarial_binary_test"
    strength = 0.1

    def optimised_parts(self, model):
        return {"classifier": model.classifier, "adversary": model.adversary}

    def training_step(self, state, batch, inputs):
        x, y = batch["x"], batch["y"]
        nuisance = (x[:, 0] > 0).float()
        logits = state.model(x).squeeze(-1)
        guess = state.module.adversary(logits.detach().unsqueeze(-1)).squeeze(-1)
        state.step("adversary", F.binary_cross_entropy_with_logits(guess, nuisance))
        guess = state.module.adversary(logits.unsqueeze(-1)).squeeze(-1)
        loss = self.loss(logits, y) - self.strength * F.binary_cross_entropy_with_logits(guess, nuisance)
        state.step("classifier", loss)
        return loss.detach()


def network(config: TrainConfig) -> Network:
    torch.manual_seed(0)
    return Network(Pivot(), AdversarialBinary(), config, spec=None)


def parts():
    x, y = xor_clouds(1000, seed=3)
    data = from_arrays(x, y.astype(np.float32))
    return data.subset(np.arange(800)), data.subset(np.arange(800, 1000))


CONFIG = TrainConfig(epochs=6, batch_size=32, lr=0.01, schedule="step", step_size=2, gamma=0.5, patience=0,
                     progress=False)


def test_two_network_task_learns_with_two_optimisers():
    from sklearn.metrics import roc_auc_score

    train, valid = parts()
    net = network(CONFIG).fit(train, valid)
    assert set(net.trainer.state.optimizers) == {"classifier", "adversary"}
    assert roc_auc_score(valid.y, net.predict(valid)) > 0.95
    assert net.trainer.state.optimizers["adversary"].param_groups[0]["lr"] == pytest.approx(0.01 * 0.25)


def test_two_network_task_resumes_bit_for_bit(tmp_path):
    train, valid = parts()
    full = network(CONFIG).fit(train, valid, directory=tmp_path / "full")
    with pytest.raises(TrainingInterrupted):
        network(CONFIG).fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(3)])
    tensors, meta = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert set(meta["optimizer"]) == {"classifier", "adversary"}
    assert any(k.startswith("optimizer.adversary.") for k in tensors)
    torch.manual_seed(99)
    resumed = network(CONFIG).fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for name, optimizer in full.trainer.state.optimizers.items():
        other = resumed.trainer.state.optimizers[name].state_dict()["state"]
        for index, values in optimizer.state_dict()["state"].items():
            for key, value in values.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(other[index][key])), (name, key)
    assert [h["valid_loss"] for h in resumed.history] == [h["valid_loss"] for h in full.history]


def test_early_stopping_follows_the_monitored_metric_and_its_direction():
    train, valid = parts()
    config = TrainConfig(epochs=3, batch_size=64, patience=1, monitor="auc", progress=False)
    net = network(config).fit(train, valid)
    stopping = next(h for h in net.trainer.callbacks if type(h).__name__ == "EarlyStopping")
    assert stopping.monitor == "valid_auc" and stopping.sign == -1.0  # maximised
    assert -stopping.best == max(h["valid_auc"] for h in net.history)


def test_an_unknown_monitor_is_a_one_line_error():
    from quanta.errors import UserError

    train, valid = parts()
    with pytest.raises(UserError, match=r"^train.monitor: 'auk' is not a validation metric of this task; "
                                        r"allowed: loss, auc$"):
        network(TrainConfig(epochs=2, monitor="auk", progress=False)).fit(train, valid)
