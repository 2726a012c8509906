"""The deep Q-network learns CartPole, resumes exactly from its checkpoint, and refuses Box actions."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from quanta.agents.dqn import DQN
from quanta.agents.environment import gymnasium
from quanta.errors import UserError
from quanta.train.preemption import Preempted

pytestmark = pytest.mark.usefixtures("one_thread")


def cartpole(seed: int, valid: int = 5, test: int = 10):
    return gymnasium(env="CartPole-v1", valid_episodes=valid, test_episodes=test, seed=seed).parts()


def test_a_short_dqn_learns_to_balance_the_pole():
    parts = cartpole(1)
    agent = DQN(steps=6000, eval_every=1000, hidden=[64, 64], learning_starts=500, learning_rate=1e-3,
                exploration_fraction=0.3, seed=1).fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    assert returns.mean() > 120, agent.history  # random actions: about 22; DQN's defaults reach 500
    assert agent.history[-1]["updates"] > 5000 and np.isfinite(agent.history[-1]["loss"])


class StopAfter:
    """A callback that pre-empts training at the end of its ``epoch``-th evaluation."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_fit_start(self, agent):
        pass

    def on_epoch_end(self, agent, epoch, record):
        if epoch == self.epoch:
            raise Preempted("SIGTERM")

    def on_fit_end(self, agent):
        pass


def without_timings(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def test_a_preempted_dqn_resumes_exactly(tmp_path):
    settings = {"steps": 900, "eval_every": 300, "hidden": [16], "learning_starts": 100,
                "buffer_size": 250, "batch_size": 16, "target_update": 50, "tau": 1.0, "seed": 3}
    parts = cartpole(3, valid=2, test=3)
    whole = DQN(**settings).fit(parts["train"], parts["valid"])

    interrupted = DQN(**settings)
    with pytest.raises(Preempted):
        interrupted.fit(parts["train"], parts["valid"], directory=tmp_path, callbacks=[StopAfter(2)])
    torch.manual_seed(12345)  # the global generator is part of the checkpoint, not of the process
    resumed = DQN(**settings).fit(parts["train"], parts["valid"], directory=tmp_path, resume=True)

    assert resumed.filled == 250 and resumed.position == whole.position  # wrapped before the stop
    assert without_timings(resumed.history) == without_timings(whole.history)
    for name, tensor in whole.weights().items():
        assert torch.equal(tensor, resumed.weights()[name]), name
    assert np.array_equal(resumed.predict(parts["test"]), whole.predict(parts["test"]))


def test_dqn_refuses_an_environment_with_continuous_actions():
    parts = gymnasium(env="Pendulum-v1", valid_episodes=1, test_episodes=1).parts()
    with pytest.raises(UserError, match="agent dqn takes discrete actions, and this environment "
                                        "has box actions"):
        DQN(steps=10).fit(parts["train"], parts["valid"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dqn_defaults_reach_the_cartpole_maximum(seed):
    """The defaults reach CartPole-v1's 500 on all ten valid episodes (measured: 32.6k, 32.8k, 47.5k steps)."""
    parts = cartpole(seed, valid=10, test=20)
    started = time.perf_counter()
    agent = DQN(target_return=500, seed=seed).fit(parts["train"], parts["valid"])
    steps = agent.history[-1]["steps"]
    print(f"seed {seed}: 500 after {steps} steps, {time.perf_counter() - started:.0f} s")
    assert agent.history[-1]["valid_mean_return"] == 500, agent.history
    assert steps <= 60_000
    assert agent.predict(parts["test"]).mean() > 450
