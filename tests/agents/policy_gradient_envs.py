"""Helpers of the policy-gradient tests: a tiny continuous-action environment, agents on CartPole."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from quanta.agents import AGENTS
from quanta.agents.environment import Environment, gymnasium


class Reach(gym.Env):
    """Say the target: observation t ~ U(-1, 1), action a in [-2, 2], reward -(a - t)^2, 8 steps.

    The best policy (a = t) returns 0; always 0 returns -8/3 on average, uniform random actions
    -40/3. The bounds are wider than the targets so that clipping rarely decides a reward.
    """

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: Any = None):
        super().reset(seed=seed)
        self.steps, self.target = 0, self.np_random.uniform(-1, 1)
        return np.array([self.target], np.float32), {}

    def step(self, action):
        reward = -(float(action[0]) - self.target) ** 2
        self.steps += 1
        self.target = self.np_random.uniform(-1, 1)
        return np.array([self.target], np.float32), reward, self.steps >= 8, False, {}


def reach(seed: int = 1) -> dict[str, Any]:
    """The parts (train, valid, test) of the Reach environment, 20 evaluation episodes each."""
    return Environment("reach", Reach, seed, valid_episodes=20, test_episodes=20).parts()


def cartpole(seed: int = 1, valid: int = 5, test: int = 20) -> dict[str, Any]:
    """The parts of CartPole-v1."""
    return gymnasium(env="CartPole-v1", valid_episodes=valid, test_episodes=test, seed=seed).parts()


def random_return(parts: dict[str, Any]) -> float:
    """The random policy's mean return on the test episodes."""
    agent = AGENTS.create("random", where="test").fit(parts["train"], parts["valid"])
    return float(agent.predict(parts["test"]).mean())


def history_without_times(agent: Any) -> list[dict[str, Any]]:
    """An agent's history without the wall-clock times (the rest must repeat exactly)."""
    return [{k: v for k, v in record.items() if k != "seconds"} for record in agent.history]


class StopAt:
    """A training callback that interrupts training at record ``epoch`` (before its checkpoint)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_fit_start(self, *args: Any) -> None:
        pass

    def on_fit_end(self, *args: Any) -> None:
        pass

    def on_epoch_end(self, agent: Any, epoch: int, record: dict[str, Any]) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"stopped at record {epoch}")
