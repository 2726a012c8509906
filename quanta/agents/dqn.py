"""Deep Q-network (Mnih et al. 2015): action values by a network, learned from replayed experience.

The network Q(s, ·; θ) gives one value per action. Transitions are kept in a
replay buffer (a ring of preallocated tensors, the oldest overwritten) and,
once ``learning_starts`` steps are stored, every ``train_every`` steps
``gradient_steps`` minibatches drawn uniformly from it are fitted to the
one-step targets::

    y = r + gamma * (1 - terminated) * Q_target(s', argmax_a' Q(s', a'))   (double DQN)
    y = r + gamma * (1 - terminated) * max_a' Q_target(s', a')              (plain DQN)

with the Huber loss and Adam (gradients clipped to ``max_grad_norm``). Only a
terminal s' has no future: a time limit's truncation is bootstrapped. The
target network θ⁻ follows every ``target_update`` gradient updates,
θ⁻ ← τ θ + (1 − τ) θ⁻ (τ = 1: the classic hard copy; a small τ after every
update, the default: Polyak averaging). The
behaviour policy is epsilon-greedy, epsilon going linearly from
``epsilon_start`` to ``epsilon_end`` over ``exploration_fraction`` of the steps.

The defaults reach CartPole-v1's 500 on all ten valid episodes after 32.6k,
32.8k and 47.5k steps with seeds 1, 2, 3 (``target_return: 500``; the slow
learning test); ``steps`` leaves a margin, and ``keep_best`` keeps the best
evaluation's network should a later one be worse. The checkpoint holds the buffer, both networks, the optimiser and
the counters, so a resumed training continues exactly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.agents.base import Agent, ObservationReader, linear_epsilon
from quanta.agents.networks import mlp
from quanta.registry import checked

INTEGER = Annotated[int, Field(ge=1, description="an integer >= 1")]
FRACTION = Annotated[float, Field(ge=0, le=1, description="a number in [0, 1]")]
POSITIVE = Annotated[float, Field(gt=0, description="a number > 0")]


class DQN(Agent):
    """Deep Q-network: action values by an MLP, experience replay, a target network, an epsilon schedule

    Huber loss on one-step targets from a target network (hard copies every
    ``target_update`` updates with ``tau`` 1, or Polyak averaging with ``tau`` < 1),
    Adam, double DQN by default; discrete actions.
    """

    name = "dqn"
    action_kinds = ("discrete",)

    @checked("dqn")
    def __init__(self, steps: INTEGER = 100_000, eval_every: INTEGER = 2_500, keep_best: bool = True,
                 target_return: float | None = None, seed: int = 1,
                 hidden: list[int] = (128, 128),
                 activation: Literal["relu", "tanh"] = "relu",
                 learning_rate: POSITIVE = 5e-4, gamma: FRACTION = 0.99,
                 buffer_size: INTEGER = 50_000, batch_size: INTEGER = 64,
                 learning_starts: Annotated[int, Field(ge=0, description="an integer >= 0")] = 1_000,
                 train_every: INTEGER = 1, gradient_steps: INTEGER = 1, target_update: INTEGER = 1,
                 tau: Annotated[float, Field(gt=0, le=1, description="a number in (0, 1]")] = 0.005,
                 epsilon_start: FRACTION = 1.0, epsilon_end: FRACTION = 0.02,
                 exploration_fraction: FRACTION = 0.1, double: bool = True,
                 max_grad_norm: POSITIVE = 10.0):
        super().__init__(steps, eval_every, keep_best, target_return, seed)
        self.hidden, self.activation = list(hidden), activation
        self.learning_rate, self.gamma = learning_rate, gamma
        self.buffer_size, self.batch_size = buffer_size, batch_size
        self.learning_starts, self.train_every = learning_starts, train_every
        self.gradient_steps = gradient_steps
        self.target_update, self.tau = target_update, tau
        self.epsilon_start, self.epsilon_end = epsilon_start, epsilon_end
        self.exploration_fraction, self.double = exploration_fraction, double
        self.max_grad_norm = max_grad_norm

    # -- networks and buffer -----------------------------------------------------------------
    def setup(self, observation_space: Any, action_space: Any) -> None:
        self.reader = ObservationReader(observation_space)
        size, self.actions = self.reader.size, int(action_space.n)
        self.q = mlp(size, self.hidden, self.actions, self.activation)
        self.target = mlp(size, self.hidden, self.actions, self.activation)
        self.target.load_state_dict(self.q.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.learning_rate)
        capacity = self.buffer_size
        # tensors, written one row a step through NumPy views (cheaper than tensor indexing)
        self.buffer = {"observation": torch.zeros(capacity, size), "action": torch.zeros(capacity, dtype=torch.long),
                       "reward": torch.zeros(capacity), "next_observation": torch.zeros(capacity, size),
                       "terminated": torch.zeros(capacity)}
        self._rows = {key: value.numpy() for key, value in self.buffer.items()}
        self.position = self.filled = self.updates = 0
        self._loss_sum, self._loss_count = 0.0, 0

    @property
    def epsilon(self) -> float:
        """The behaviour policy's exploration rate at this step."""
        return linear_epsilon(self.steps_done, self.epsilon_start, self.epsilon_end,
                              self.exploration_fraction * self.steps)

    def act(self, observation: Any, explore: bool) -> int:
        if explore and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.actions))
        with torch.inference_mode():
            return int(self.q(self.reader.one(observation)).argmax(dim=1).item())

    def record(self, observation: Any, action: Any, reward: float, next_observation: Any,
               terminated: bool, truncated: bool) -> None:
        i, rows = self.position, self._rows
        self.reader.write(observation, rows["observation"][i])
        self.reader.write(next_observation, rows["next_observation"][i])
        rows["action"][i], rows["reward"][i], rows["terminated"][i] = int(action), reward, float(terminated)
        self.position = (i + 1) % self.buffer_size
        self.filled = min(self.filled + 1, self.buffer_size)
        step = self.steps_done + 1  # this transition's step (the base counts it after record)
        if step > self.learning_starts and step % self.train_every == 0 and self.filled >= self.batch_size:
            for _ in range(self.gradient_steps):
                self._learn()
                self.updates += 1
                if self.updates % self.target_update == 0:
                    self._follow_target()

    def _learn(self) -> None:
        rows = torch.randint(self.filled, (self.batch_size,), generator=self.generator)
        batch = {key: value[rows] for key, value in self.buffer.items()}
        with torch.no_grad():
            following = batch["next_observation"]
            if self.double:
                best = self.q(following).argmax(dim=1, keepdim=True)
                future = self.target(following).gather(1, best).squeeze(1)
            else:
                future = self.target(following).max(dim=1).values
            wanted = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * future
        values = self.q(batch["observation"]).gather(1, batch["action"].unsqueeze(1)).squeeze(1)
        loss = nn.functional.smooth_l1_loss(values, wanted)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self._loss_sum += float(loss.detach())
        self._loss_count += 1

    def _follow_target(self) -> None:
        with torch.no_grad():
            if self.tau >= 1.0:
                for kept, online in zip(self.target.parameters(), self.q.parameters(), strict=True):
                    kept.copy_(online)
            else:
                for kept, online in zip(self.target.parameters(), self.q.parameters(), strict=True):
                    kept.lerp_(online, self.tau)

    def logs(self) -> dict[str, float]:
        record = {"epsilon": self.epsilon, "updates": self.updates, "buffer": self.filled,
                  "loss": self._loss_sum / self._loss_count if self._loss_count else float("nan")}
        self._loss_sum, self._loss_count = 0.0, 0
        return record

    # -- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return {f"q.{k}": v for k, v in self.q.state_dict().items()}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        self.q.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("q.")})

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        from quanta.train.checkpoint import flatten_state

        tensors = {f"target.{k}": v for k, v in self.target.state_dict().items()}
        tensors.update({f"buffer.{k}": v[:self.filled].clone() for k, v in self.buffer.items()})
        optimizer, skeleton = flatten_state(self.optimizer.state_dict(), "optimizer")
        tensors.update(optimizer)
        return tensors, {"optimizer": skeleton, "position": self.position, "filled": self.filled,
                         "updates": self.updates, "loss_sum": self._loss_sum,
                         "loss_count": self._loss_count}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        from quanta.train.checkpoint import unflatten_state

        self.target.load_state_dict({k[len("target."):]: v for k, v in tensors.items()
                                     if k.startswith("target.")})
        self.filled, self.position, self.updates = meta["filled"], meta["position"], meta["updates"]
        for key, value in self.buffer.items():
            value[:self.filled] = tensors[f"buffer.{key}"]
        self.optimizer.load_state_dict(unflatten_state(tensors, meta["optimizer"], "optimizer"))
        self._loss_sum, self._loss_count = meta["loss_sum"], meta["loss_count"]


__all__ = ["DQN"]
