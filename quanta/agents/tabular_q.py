"""Tabular Q-learning (Watkins): one action value per state and action, learned from each step.

After every transition (s, a, r, s')::

    Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a))

where the bootstrap term is 0 when s' is terminal (the episode ended in the
environment: a hole, a goal, a pole that fell) but NOT when the episode was
only truncated by a time limit, whose s' still has a future. The behaviour
policy is epsilon-greedy with epsilon going linearly from ``epsilon_start``
to ``epsilon_end`` over the first ``exploration_fraction`` of the steps; the
evaluated policy is greedy.

A Discrete observation is the state itself. A Box observation is binned:
``bins`` equal bins per dimension between ``bounds`` (the space's own where
finite), values outside the bounds in the first or last bin. CartPole's
velocities are unbounded, so it needs bounds, e.g. the lecture's
``bounds: [[-2.4, 2.4], [-3, 3], [-0.21, 0.21], [-3.5, 3.5]]``.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field

from quanta.agents.base import Agent, linear_epsilon
from quanta.errors import UserError
from quanta.registry import checked

#: a Box bound beyond this is "unbounded" (CartPole declares float32's largest value)
UNBOUNDED = 1e6
#: the largest table (states x actions) a tabular agent builds
MAX_ENTRIES = 20_000_000

FRACTION = Annotated[float, Field(ge=0, le=1, description="a number in [0, 1]")]


class TabularQ(Agent):
    """Tabular Q-learning: a table of action values over discrete (or binned) states, epsilon-greedy

    The update is Q(s,a) += alpha (r + gamma max_a' Q(s',a') - Q(s,a)), with no
    bootstrap from a terminal state (but from a truncated one). Box
    observations are cut into ``bins`` per dimension within ``bounds``.
    """

    name = "tabular_q"
    action_kinds = ("discrete",)

    @checked("tabular_q")
    def __init__(self, steps: Annotated[int, Field(ge=1, description="an integer >= 1")] = 100_000,
                 eval_every: Annotated[int, Field(ge=1, description="an integer >= 1")] = 10_000,
                 keep_best: bool = True, target_return: float | None = None, seed: int = 1,
                 learning_rate: Annotated[float, Field(gt=0, le=1, description="a number in (0, 1]")] = 0.1,
                 gamma: FRACTION = 0.99, epsilon_start: FRACTION = 1.0, epsilon_end: FRACTION = 0.05,
                 exploration_fraction: FRACTION = 0.5,
                 bins: Annotated[int, Field(ge=1, le=1000, description="an integer from 1 to 1000")] = 10,
                 bounds: list[tuple[float, float]] | None = None):
        super().__init__(steps, eval_every, keep_best, target_return, seed)
        self.learning_rate, self.gamma = learning_rate, gamma
        self.epsilon_start, self.epsilon_end = epsilon_start, epsilon_end
        self.exploration_fraction, self.bins, self.bounds = exploration_fraction, bins, bounds
        if bounds is not None and any(not low < high for low, high in bounds):
            raise UserError(f"tabular_q: bounds must be [low, high] pairs with low < high; "
                            f"received {bounds}")

    # -- states ------------------------------------------------------------------------------
    def setup(self, observation_space: Any, action_space: Any) -> None:
        from gymnasium import spaces

        self.actions = int(action_space.n)
        if isinstance(observation_space, spaces.Discrete):
            self._offset, self._edges, states = int(observation_space.start), None, int(observation_space.n)
        else:
            self._edges = self._bin_edges(observation_space)
            states = self.bins ** len(self._edges)
        if states * self.actions > MAX_ENTRIES:
            raise UserError(f"tabular_q: {states:,} states x {self.actions} actions is too large a "
                            f"table (at most {MAX_ENTRIES:,}); use fewer bins or agent dqn")
        self.table = np.zeros((states, self.actions), dtype=np.float64)
        self._strides = self.bins ** np.arange(len(self._edges) - 1, -1, -1) if self._edges else None
        self._td_sum, self._td_count = 0.0, 0

    def _bin_edges(self, space: Any) -> list[np.ndarray]:
        low, high = np.asarray(space.low, np.float64).reshape(-1), np.asarray(space.high, np.float64).reshape(-1)
        if self.bounds is not None:
            if len(self.bounds) != low.size:
                raise UserError(f"tabular_q: bounds has {len(self.bounds)} [low, high] pairs and the "
                                f"observations have {low.size} dimensions; give one pair per dimension")
            low = np.array([b[0] for b in self.bounds], np.float64)
            high = np.array([b[1] for b in self.bounds], np.float64)
        unbounded = [i for i in range(low.size) if not (abs(low[i]) < UNBOUNDED and abs(high[i]) < UNBOUNDED)]
        if unbounded:
            raise UserError(f"tabular_q: observation dimensions {unbounded} are unbounded; give "
                            "params.bounds, one [low, high] pair per dimension, to bin them")
        return [np.linspace(lo, hi, self.bins + 1)[1:-1] for lo, hi in zip(low, high, strict=True)]

    def state(self, observation: Any) -> int:
        """The table row of an observation (its bin for a Box observation)."""
        if self._edges is None:
            return int(observation) - self._offset
        values = np.asarray(observation, np.float64).reshape(-1)
        index = [int(np.searchsorted(edges, v, side="right")) for edges, v in zip(self._edges, values,
                                                                                  strict=True)]
        return int(np.dot(index, self._strides))

    # -- acting and learning -----------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        """The behaviour policy's exploration rate at this step."""
        return linear_epsilon(self.steps_done, self.epsilon_start, self.epsilon_end,
                              self.exploration_fraction * self.steps)

    def act(self, observation: Any, explore: bool) -> int:
        if explore and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.actions))
        values = self.table[self.state(observation)]
        if explore:  # break ties at random while learning (an untouched state is all ties)
            return int(self.rng.choice(np.flatnonzero(values == values.max())))
        return int(np.argmax(values))

    def record(self, observation: Any, action: Any, reward: float, next_observation: Any,
               terminated: bool, truncated: bool) -> None:
        s, s_next = self.state(observation), self.state(next_observation)
        bootstrap = 0.0 if terminated else self.gamma * float(self.table[s_next].max())
        error = reward + bootstrap - self.table[s, action]
        self.table[s, action] += self.learning_rate * error
        self._td_sum += abs(error)
        self._td_count += 1

    def logs(self) -> dict[str, float]:
        record = {"epsilon": self.epsilon,
                  "td_error": self._td_sum / self._td_count if self._td_count else float("nan"),
                  "states_visited": int(np.count_nonzero(np.any(self.table != 0, axis=1)))}
        self._td_sum, self._td_count = 0.0, 0
        return record

    # -- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return {"table": torch.from_numpy(self.table)}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        self.table = tensors["table"].numpy().astype(np.float64, copy=True)

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"td_sum": self._td_sum, "td_count": self._td_count}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self._td_sum, self._td_count = meta["td_sum"], meta["td_count"]


__all__ = ["TabularQ"]
