"""A network with augmentations and dropout, stopped by a real SIGUSR1 or SIGTERM inside an epoch,
resumes from its mid-epoch checkpoint to the weights and history of an uninterrupted run, bit for bit.

The signal is sent to this process by a test callback (the handler is quanta's own, installed by
``preemption.handling``, as ``quanta run`` installs it); nothing in quanta knows it is a test.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import from_arrays
from quanta.tasks.binary import Binary
from quanta.train import preemption
from quanta.train.callbacks import Callback
from quanta.train.checkpoint import load_checkpoint
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingPreempted
from quanta.train.network import Network
from tests.conftest import xor_clouds

pytestmark = pytest.mark.usefixtures("one_thread")

TIMINGS = ("train_seconds", "samples_per_second")


class SignalAt(Callback):
    """Sends ``number`` to this process after batch ``batch`` of epoch ``epoch`` (twice: the second
    one arrives while the checkpoint is being written and must change nothing)."""

    def __init__(self, number: int, epoch: int, batch: int):
        self.number, self.epoch, self.batch, self.current = number, epoch, batch, 0

    def on_epoch_start(self, trainer, epoch):
        self.current = epoch

    def on_batch_end(self, trainer, batch):
        if self.current == self.epoch and batch == self.batch:
            os.kill(os.getpid(), self.number)

    def on_preempt(self, trainer):
        os.kill(os.getpid(), self.number)  # before the checkpoint callback, which comes last


def network(config: TrainConfig) -> Network:
    torch.manual_seed(0)
    model = quanta.models.MODELS.get("mlp")(2, 1, hidden=(16, 16), dropout=0.3)
    return Network(model, Binary(), config)


def parts():
    x, y = xor_clouds(700)
    data = from_arrays(x, y.astype(np.float32))
    return data.subset(np.arange(500)), data.subset(np.arange(500, 700))


CONFIG = TrainConfig(epochs=4, batch_size=25, lr=0.01, schedule="cosine", patience=0, progress=False,
                     augment=[{"name": "jitter", "sigma": 0.1}, "flip"])


def without_timings(history):
    return [{k: v for k, v in record.items() if k not in TIMINGS} for record in history]


@pytest.mark.parametrize("number", [signal.SIGUSR1, signal.SIGTERM], ids=["SIGUSR1", "SIGTERM"])
def test_a_mid_epoch_checkpoint_resumes_bit_for_bit(tmp_path, number):
    train, valid = parts()
    full = network(CONFIG).fit(train, valid, directory=tmp_path / "full")
    previous = signal.getsignal(number)
    with preemption.handling():
        with pytest.raises(TrainingPreempted) as stop:
            network(CONFIG).fit(train, valid, directory=tmp_path / "cut", callbacks=[SignalAt(number, 2, 6)])
    assert signal.getsignal(number) is previous  # the handlers are put back
    assert stop.value.signal == signal.Signals(number).name
    assert (stop.value.epoch, stop.value.batches, stop.value.of) == (1, 7, 20)
    _, meta = load_checkpoint(stop.value.checkpoint)
    assert meta["epoch"] == 1 and meta["position"]["epoch"] == 2 and meta["position"]["batches"] == 7
    torch.manual_seed(99)  # whatever ran in between must not matter
    resumed = network(CONFIG).fit(train, valid, directory=tmp_path / "cut", resume=True)
    expected = full.model.state_dict()
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert without_timings(resumed.history) == without_timings(full.history)
    assert len((tmp_path / "cut" / "history.jsonl").read_text().splitlines()) == 4


def test_a_signal_outside_training_raises_at_once_and_handlers_are_restored():
    with preemption.handling():
        with pytest.raises(preemption.Preempted, match="SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs at the next bytecode
                pass
        os.kill(os.getpid(), signal.SIGTERM)  # a second one while the first unwinds: recorded only
        assert preemption.requested() == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
