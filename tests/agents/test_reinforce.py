"""REINFORCE learns CartPole and a continuous-action task, resumes exactly, refuses bad parameters."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from quanta.agents import AGENTS
from quanta.agents.base import CHECKPOINT_FILE, Agent
from quanta.agents.reinforce import Reinforce
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


def test_reinforce_beats_the_random_policy_on_cartpole_within_6000_steps():
    """And its baseline has learned the size of the returns."""
    parts = cartpole()
    agent = AGENTS.create("reinforce", where="test", steps=6_000, eval_every=3_000)
    agent.fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    assert random_return(parts) < 30
    assert returns.mean() >= 100, (returns.mean(), agent.history)
    assert agent.history[-1]["updates"] == agent.episodes_done // 4
    # the baseline b(s) at an episode's start is of the size of the discounted return from there
    env = parts["test"].make()
    observation, _ = env.reset(seed=parts["test"].seed_of(0))
    env.close()
    with torch.no_grad():
        start_value = float(agent.value(torch.as_tensor(observation).reshape(1, -1)))
    horizon = 1 / (1 - agent.gamma)  # 100: the most a discounted CartPole return can be
    assert 20 < start_value < 1.2 * horizon, start_value


def test_reinforce_learns_box_actions_as_a_gaussian_policy():
    parts = reach()
    agent = Reinforce(steps=4_000, eval_every=1_000, hidden=[32]).fit(parts["train"], parts["valid"])
    returns = agent.predict(parts["test"])
    assert returns.mean() > -0.5, returns.mean()  # always 0: -2.67, random: -13.3, best: 0


def test_reinforce_resumed_at_a_record_repeats_the_straight_training_exactly(tmp_path):
    """Record 1's checkpoint holds finished episodes still waiting for their update."""
    parts = cartpole(valid=2)
    params = dict(steps=1_500, eval_every=500, episodes_per_update=8, hidden=[16])
    straight = Reinforce(**params).fit(parts["train"], parts["valid"], directory=tmp_path / "straight")
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        Reinforce(**params).fit(parts["train"], parts["valid"], directory=stopped, callbacks=[StopAt(2)])
    _, meta = load_checkpoint(stopped / CHECKPOINT_FILE)
    assert len(meta["history"]) == 1 and 0 < meta["state"]["batch"] < 8
    resumed = Reinforce(**params).fit(parts["train"], parts["valid"], directory=stopped, resume=True)
    assert history_without_times(resumed) == history_without_times(straight)
    for name, tensor in straight.weights().items():
        assert torch.equal(tensor, resumed.weights()[name]), name


def test_a_saved_reinforce_agent_loads_and_plays_the_same_episodes(tmp_path):
    parts = cartpole(test=3)
    agent = Reinforce(steps=500, eval_every=500, hidden=[16]).fit(parts["train"], parts["valid"])
    agent.save(tmp_path)
    loaded = Agent.load(tmp_path)
    assert isinstance(loaded, Reinforce) and loaded.params == agent.params
    assert np.array_equal(loaded.predict(parts["test"]), agent.predict(parts["test"]))


@pytest.mark.parametrize("params, message", [
    ("episodes_per_update: 0",
     "methods[0].params: episodes_per_update must be an integer >= 1; received 0"),
    ("gamma: 1.5", "methods[0].params: gamma must be a number in [0, 1]; received 1.5"),
    ("entropy_coef: -1", "methods[0].params: entropy_coef must be a number >= 0; received -1"),
])
def test_bad_reinforce_parameters_are_one_line_errors(tmp_path, params, message):
    config = tmp_path / "reinforce.yaml"
    config.write_text("name: bad-reinforce\ntask: reinforcement\n"
                      "data: {source: gymnasium, env: CartPole-v1, valid_episodes: 2, test_episodes: 2}\n"
                      f"methods:\n  - {{name: pg, agent: reinforce, params: {{steps: 100, {params}}}}}\n")
    result = quanta_here("run", str(config), "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"quanta: error: {message}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reinforce_reaches_500_on_cartpole(seed):
    """The defaults: 40411, 22026 and 15295 steps to a valid mean of 500 for seeds 1-3 (15-40 s)."""
    parts = cartpole(seed=seed, valid=10, test=100)
    start = time.perf_counter()
    agent = Reinforce(steps=100_000, eval_every=1_000, target_return=500, seed=seed)
    agent.fit(parts["train"], parts["valid"])
    print(f"reinforce seed {seed}: 500 after {agent.steps_done} steps, "
          f"{time.perf_counter() - start:.0f} s")
    assert agent.history[-1]["valid_mean_return"] == 500
    assert agent.predict(parts["test"]).mean() >= 450
