"""PPO learns CartPole and a continuous-action task, resumes exactly, and refuses bad parameters."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from quanta.agents import AGENTS
from quanta.agents.base import CHECKPOINT_FILE, Agent
from quanta.agents.environment import gymnasium
from quanta.agents.ppo import PPO
from quanta.train.checkpoint import load_checkpoint
from tests.agents.policy_gradient_envs import (
    StopAt,
    cartpole,
    history_without_times,
    random_return,
    reach,
)
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ppo_beats_the_random_policy_on_cartpole_within_4000_steps():
    parts = cartpole()
    agent = AGENTS.create("ppo", where="test", steps=4_000, eval_every=2_000, rollout_steps=256)
    agent.fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    floor = random_return(parts)  # about 20
    assert floor < 30
    assert returns.mean() >= 150, (returns.mean(), agent.history)
    assert agent.history[-1]["updates"] == agent.steps_done // 256 >= 15
    assert all(np.isfinite(r["approx_kl"]) and 0 <= r["clip_fraction"] <= 1 for r in agent.history)


def test_ppo_learns_box_actions_as_a_gaussian_policy():
    """Reach: the action must equal the observed target; the greedy action is the Gaussian's mean."""
    parts = reach()
    agent = PPO(steps=3_000, eval_every=1_000, rollout_steps=256, hidden=[32])
    agent.fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    assert returns.mean() > -0.5, returns.mean()  # always 0: -2.67, random: -13.3, best: 0
    assert random_return(parts) < -10
    assert float(agent.policy.log_std.detach().exp()) < 1.0  # the exploration noise was learned down


def test_ppo_resumed_at_a_record_repeats_the_straight_training_exactly(tmp_path):
    """A stop after record 2, resumed from record 1's checkpoint, which holds a partial rollout."""
    parts = cartpole(valid=2)
    params = dict(steps=1_800, eval_every=600, rollout_steps=384, epochs=2, hidden=[16])
    straight = PPO(**params).fit(parts["train"], parts["valid"], directory=tmp_path / "straight")
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        PPO(**params).fit(parts["train"], parts["valid"], directory=stopped, callbacks=[StopAt(2)])
    _, meta = load_checkpoint(stopped / CHECKPOINT_FILE)
    assert len(meta["history"]) == 1 and 0 < meta["state"]["position"] < 384
    resumed = PPO(**params).fit(parts["train"], parts["valid"], directory=stopped, resume=True)
    assert history_without_times(resumed) == history_without_times(straight)
    assert len(straight.history) == 3 and straight.updates == resumed.updates >= 4
    for name, tensor in straight.weights().items():
        assert torch.equal(tensor, resumed.weights()[name]), name


def test_a_saved_ppo_agent_loads_and_plays_the_same_episodes(tmp_path):
    parts = cartpole(test=3)
    agent = PPO(steps=600, eval_every=600, rollout_steps=128, hidden=[16]).fit(parts["train"],
                                                                                parts["valid"])
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert isinstance(loaded, PPO) and loaded.params == agent.params
    assert np.array_equal(loaded.predict(parts["test"]), agent.predict(parts["test"]))


@pytest.mark.parametrize("params, message", [
    ("clip: 2", "methods[0].params: clip must be a number in (0, 1); received 2"),
    ("minibatch_size: 0", "methods[0].params: minibatch_size must be an integer >= 1; received 0"),
    ("gae_lambda: 1.5", "methods[0].params: gae_lambda must be a number in [0, 1]; received 1.5"),
    ("hidden: [0]", "methods[0].params: hidden must be a list of positive integers; received [0]"),
])
def test_bad_ppo_parameters_are_one_line_errors(tmp_path, params, message):
    config = tmp_path / "ppo.yaml"
    config.write_text("name: bad-ppo\ntask: reinforcement\n"
                      "data: {source: gymnasium, env: CartPole-v1, valid_episodes: 2, test_episodes: 2}\n"
                      f"methods:\n  - {{name: ppo, agent: ppo, params: {{steps: 100, {params}}}}}\n")
    result = quanta_here("run", str(config), "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"quanta: error: {message}"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("checkpoint*"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ppo_reaches_500_on_cartpole(seed):
    """The defaults: 3113, 9246 and 8228 steps to a valid mean of 500 for seeds 1-3 (5-20 s each)."""
    parts = cartpole(seed=seed, valid=10, test=100)
    start = time.perf_counter()
    agent = PPO(steps=50_000, eval_every=1_000, target_return=500, seed=seed)
    agent.fit(parts["train"], parts["valid"])
    print(f"ppo seed {seed}: 500 after {agent.steps_done} steps, {time.perf_counter() - start:.0f} s")
    assert agent.history[-1]["valid_mean_return"] == 500
    assert agent.steps_done <= 25_000
    assert agent.predict(parts["test"]).mean() >= 475


@pytest.mark.slow
def test_ppo_swings_up_the_pendulum():
    """Box actions on Pendulum-v1: random torques return about -1200, a swing-up about -200.

    Measured: test mean -198 after 40k steps (about 50 s; -207 after 60k).
    """
    parts = gymnasium(env="Pendulum-v1", valid_episodes=5, test_episodes=20).parts()
    agent = PPO(steps=40_000, eval_every=4_000, rollout_steps=2_048, gamma=0.9)
    agent.fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    print(f"ppo pendulum: test mean return {returns.mean():.0f} after {agent.steps_done} steps")
    assert random_return(parts) < -900
    assert returns.mean() > -400, returns.mean()
