"""Learning-rate schedules: the sequence of learning rates equals the formula, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quanta.data.batching import DeviceData
from quanta.data.dataset import from_arrays
from quanta.tasks.regression import Regression
from quanta.train.callbacks import Callback
from quanta.train.config import TrainConfig
from quanta.train.loop import Trainer
from quanta.train.schedules import LearningRateSchedule, one_cycle

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS, SAMPLES, BATCH = 6, 40, 10  # 4 optimiser steps per epoch
STEPS = SAMPLES // BATCH
LR = 0.1


class RecordLearningRates(Callback):
    """The learning rate each optimiser step used, in order."""

    def __init__(self):
        self.lrs: list[float] = []

    def on_batch_end(self, trainer, batch):
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])


def train_lrs(**options) -> list[float]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = from_arrays(rng.normal(size=(SAMPLES, 3)).astype(np.float32), rng.normal(size=SAMPLES).astype(np.float32))
    config = TrainConfig(epochs=EPOCHS, batch_size=BATCH, optimizer="sgd", lr=LR, progress=False, **options)
    record = RecordLearningRates()
    trainer = Trainer(torch.nn.Linear(3, 1), Regression(), config, torch.device("cpu"), callbacks=[record])
    trainer.fit(DeviceData(data, "cpu"))
    return record.lrs


def per_step(epoch_rule) -> list[float]:
    return [LR * epoch_rule(s // STEPS) for s in range(EPOCHS * STEPS)]


@pytest.mark.parametrize("options, rule", [
    ({"schedule": "none"}, lambda e: 1.0),
    ({"schedule": "step", "step_size": 2, "gamma": 0.5}, lambda e: 0.5 ** (e // 2)),
    ({"schedule": "exponential", "gamma": 0.8}, lambda e: 0.8 ** e),
    ({"schedule": "inverse_time", "decay_rate": 0.5}, lambda e: 1 / (1 + 0.5 * e)),
    ({"schedule": "cosine"}, lambda e: 0.5 * (1 + math.cos(math.pi * e / EPOCHS))),
    ({"schedule": "cosine", "min_lr": 0.01}, lambda e: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * e / EPOCHS))),
])
def test_per_epoch_schedules_follow_their_formula(options, rule):
    assert train_lrs(**options) == pytest.approx(per_step(rule), rel=1e-12)


def test_linear_warmup_then_a_schedule():
    warm = 6
    expected = [LR * 0.5 ** (s // STEPS // 2) * min(1.0, (s + 1) / warm) for s in range(EPOCHS * STEPS)]
    lrs = train_lrs(schedule="step", step_size=2, gamma=0.5, warmup_steps=warm)
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert lrs[0] == pytest.approx(LR / warm) and lrs[warm - 1] == pytest.approx(LR)


def test_one_cycle_matches_pytorch_one_cycle_lr():
    lrs = train_lrs(schedule="one_cycle", pct_start=0.25)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=EPOCHS * STEPS,
                                                    pct_start=0.25, cycle_momentum=False)
    expected = []
    for _ in range(EPOCHS * STEPS):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert max(lrs) == pytest.approx(LR) and lrs[0] == pytest.approx(LR / 25)


def test_schedule_is_a_pure_function_of_epoch_and_step():
    schedule = LearningRateSchedule("cosine", epochs=10, steps_per_epoch=5, warmup_steps=3)
    assert schedule.per_step and not LearningRateSchedule("cosine", epochs=10).per_step
    assert schedule.factor(0, 0) == pytest.approx(1 / 3)
    assert schedule.factor(5, 25) == pytest.approx(0.5)
    assert one_cycle(0, 100) == pytest.approx(1 / 25) and one_cycle(99, 100) == pytest.approx(1 / 25 / 1e4)


def test_one_cycle_excludes_warmup_at_the_config_edge():
    with pytest.raises(Exception, match="own warm-up"):
        TrainConfig(schedule="one_cycle", warmup_steps=5)


@pytest.mark.parametrize("options", [
    {"schedule": "one_cycle", "augment": [{"name": "jitter", "sigma": 0.1}], "l1": 1e-3},
    {"schedule": "cosine", "warmup_steps": 10, "augment": ["flip"], "l2": 1e-3, "lr_groups": {"layers.0.*": 0.5}},
])
def test_resume_is_bit_for_bit_with_schedules_augmentation_and_penalties(tmp_path, options):
    import quanta
    from quanta.tasks.binary import Binary
    from quanta.train.callbacks import StopAfter
    from quanta.train.loop import TrainingInterrupted
    from quanta.train.network import Network
    from tests.conftest import xor_clouds

    x, y = xor_clouds(600)
    data = from_arrays(x, y.astype(np.float32))
    train, valid = data.subset(np.arange(450)), data.subset(np.arange(450, 600))
    config = TrainConfig(epochs=4, batch_size=32, optimizer="sgd", lr=0.05, patience=0, progress=False, **options)

    def network() -> Network:
        torch.manual_seed(0)
        return Network(quanta.models.MODELS.get("mlp")(2, 1, hidden=(8,), dropout=0.1), Binary(), config)

    full = network().fit(train, valid, directory=tmp_path / "full")
    with pytest.raises(TrainingInterrupted):
        network().fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(2)])
    torch.manual_seed(123)
    resumed = network().fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h["lr"] for h in resumed.history] == [h["lr"] for h in full.history]
