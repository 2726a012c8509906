"""Tabular Q-learning learns FrozenLake and (binned) CartPole; its update bootstraps as the lecture says."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.agents.environment import gymnasium
from quanta.agents.tabular_q import TabularQ
from quanta.errors import UserError

pytestmark = pytest.mark.usefixtures("one_thread")

#: the lecture's bounds for CartPole's position, velocity, angle and angular velocity
CARTPOLE_BOUNDS = [[-2.4, 2.4], [-3.0, 3.0], [-0.21, 0.21], [-3.5, 3.5]]


def test_tabular_q_learns_slippery_frozen_lake():
    parts = gymnasium(env="FrozenLake-v1", valid_episodes=100, test_episodes=300, seed=4).parts()
    agent = TabularQ(steps=30_000, eval_every=10_000, seed=4).fit(parts["train"], parts["valid"])
    success = agent.predict(parts["test"]).mean()
    # a random walk reaches the goal in about 1.5 % of the episodes; the optimal policy in about 74 %
    assert success > 0.55, agent.history
    assert agent.history[-1]["epsilon"] == pytest.approx(0.05)


def test_tabular_q_learns_cartpole_from_binned_observations():
    parts = gymnasium(env="CartPole-v1", valid_episodes=10, test_episodes=20, seed=2).parts()
    agent = TabularQ(steps=60_000, eval_every=15_000, bins=6, bounds=CARTPOLE_BOUNDS, seed=2)
    agent.fit(parts["train"], parts["valid"])
    assert agent.predict(parts["test"]).mean() > 100  # random actions: about 22


def test_terminal_states_have_no_future_but_truncated_ones_do():
    from gymnasium import spaces

    agent = TabularQ(learning_rate=1.0, gamma=0.5)
    agent._start(spaces.Discrete(3), spaces.Discrete(2))
    agent.table[2] = [4.0, 8.0]
    agent.record(0, 1, 1.0, 2, terminated=True, truncated=False)
    agent.record(1, 0, 1.0, 2, terminated=False, truncated=True)
    assert agent.table[0, 1] == 1.0  # r alone
    assert agent.table[1, 0] == 1.0 + 0.5 * 8.0  # r + gamma max_a' Q(s', a')


def test_box_observations_are_binned_within_bounds():
    from gymnasium import spaces

    agent = TabularQ(bins=4, bounds=[[0.0, 1.0], [-2.0, 2.0]])
    agent._start(spaces.Box(-np.inf, np.inf, (2,), np.float32), spaces.Discrete(2))
    assert agent.table.shape == (16, 2)
    assert agent.state([0.1, -1.5]) == 0
    assert agent.state([0.9, 1.9]) == 15
    assert agent.state([5.0, -9.0]) == 12  # outside the bounds: the outer bins


def test_unbounded_observations_without_bounds_are_refused():
    parts = gymnasium(env="CartPole-v1", valid_episodes=1, test_episodes=1).parts()
    with pytest.raises(UserError, match=r"dimensions \[1, 3\] are unbounded; give params.bounds"):
        TabularQ(steps=10).fit(parts["train"], parts["valid"])
