"""train.part_lr gives each part of a multi-network task its own learning rate (two time-scale updates)."""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError

pytestmark = pytest.mark.usefixtures("one_thread")


def gaussian(n: int = 400) -> Dataset:
    return Dataset({"x": np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)}, name="gauss")


def test_the_critic_learns_at_its_own_rate_and_the_schedule_scales_both():
    run = quanta.fit("gan", gaussian(), task="generation", params={"generator_hidden": [8], "critic_hidden": [8]},
                     epochs=2, lr=1e-4, part_lr={"critic": 4.0}, schedule="step", step_size=1, gamma=0.5,
                     progress=False)
    optimizers = run.estimator.trainer.state.optimizers
    assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5)
    assert optimizers["critic"].param_groups[0]["lr"] == pytest.approx(4e-4 * 0.5)
    assert run.estimator.trainer.state.base_lrs["critic"] == [pytest.approx(4e-4)]


def test_a_part_the_task_does_not_train_is_a_one_line_error():
    with pytest.raises(UserError, match=r"^train.part_lr: 'critc' is not a part this task trains; "
                                        r"parts: generator, critic$"):
        quanta.fit("gan", gaussian(), task="generation", part_lr={"critc": 2.0}, epochs=1, progress=False)
