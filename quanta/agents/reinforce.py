"""REINFORCE (Williams 1992): the Monte Carlo policy gradient, with a learned value baseline.

The policy gradient theorem gives the gradient of the expected return as::

    ∇J(θ) = E[ Σ_t ∇_θ log π_θ(a_t|s_t) (G_t − b(s_t)) ],   G_t = Σ_{k≥t} γ^(k−t) r_k

The agent plays ``episodes_per_update`` whole episodes with its stochastic
policy, computes every step's discounted return-to-go G_t, and takes one Adam
step on −Σ log π(a_t|s_t) (G_t − b(s_t)) / N (minus ``entropy_coef`` times the
mean entropy, if asked). A baseline that depends on the state only leaves the
gradient unbiased and lowers its variance: here b(s) is a separate MLP
fitted to G_t by mean squared error (``value_steps`` Adam steps per update);
``baseline: false`` gives the plain estimator (b = 0). With ``normalize`` the
weights G_t − b(s_t) are standardised over the update's steps, the usual way
to keep the step size independent of the reward scale. An episode cut by a
time limit is not the end of the task: its G_t include the baseline's value
of the state it was cut in, discounted.

Discrete actions are categorical, Box actions a diagonal Gaussian with a
learned log standard deviation (:mod:`quanta.agents.policy`); the greedy
policy takes the argmax or the mean. Finished episodes waiting for the next
update are part of the checkpoint, so a resumed training continues exactly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from quanta.agents.base import Agent, ObservationReader, load_module_weights, module_weights
from quanta.agents.networks import mlp
from quanta.agents.policy import Policy
from quanta.models.hints import Widths
from quanta.registry import checked

INTEGER = Annotated[int, Field(ge=1, description="an integer >= 1")]
FRACTION = Annotated[float, Field(ge=0, le=1, description="a number in [0, 1]")]
POSITIVE = Annotated[float, Field(gt=0, description="a number > 0")]
NON_NEGATIVE = Annotated[float, Field(ge=0, description="a number >= 0")]
LOGS = ("policy_loss", "value_loss", "entropy")


class Reinforce(Agent):
    """REINFORCE: the Monte Carlo policy gradient, with a learned value baseline

    An update every ``episodes_per_update`` episodes from their discounted
    returns-to-go; baseline MLP fitted by mean squared error; optional weight
    standardisation and entropy bonus; discrete or Box actions.
    """

    name = "reinforce"

    @checked("reinforce")
    def __init__(self, steps: INTEGER = 100_000, eval_every: INTEGER = 5_000, keep_best: bool = True,
                 target_return: float | None = None, seed: int = 1,
                 hidden: Widths = (64, 64), activation: Literal["tanh", "relu"] = "tanh",
                 learning_rate: POSITIVE = 3e-3, value_learning_rate: POSITIVE = 3e-3,
                 gamma: FRACTION = 0.99, episodes_per_update: INTEGER = 4,
                 baseline: bool = True, value_steps: INTEGER = 4, normalize: bool = True,
                 entropy_coef: NON_NEGATIVE = 0.0, max_grad_norm: POSITIVE = 1.0,
                 log_std: float = 0.0):
        super().__init__(steps, eval_every, keep_best, target_return, seed)
        self.hidden, self.activation = list(hidden), activation
        self.learning_rate, self.value_learning_rate = learning_rate, value_learning_rate
        self.gamma, self.episodes_per_update = gamma, episodes_per_update
        self.baseline, self.value_steps, self.normalize = baseline, value_steps, normalize
        self.entropy_coef, self.max_grad_norm, self.log_std = entropy_coef, max_grad_norm, log_std

    # -- networks and episodes ---------------------------------------------------------------
    def setup(self, observation_space: Any, action_space: Any) -> None:
        self.reader = ObservationReader(observation_space)
        self.policy = Policy(observation_space, action_space, self.hidden, self.activation,
                             last_gain=0.01, log_std=self.log_std)
        self.value = mlp(self.reader.size, self.hidden, 1, self.activation, last_gain=1.0)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.learning_rate)
        self.value_optimizer = torch.optim.Adam(self.value.parameters(), lr=self.value_learning_rate)
        self._episode: dict[str, list] = {"observation": [], "action": [], "reward": []}
        # finished episodes since the last update: observations, actions, returns-to-go
        self._batch: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._drawn: torch.Tensor | None = None
        self.updates = 0
        self._sums, self._count = dict.fromkeys(LOGS, 0.0), 0

    def act(self, observation: Any, explore: bool) -> Any:
        x = self.reader.one(observation)
        with torch.inference_mode():
            if not explore:
                return self.policy.to_env(self.policy.greedy(x)[0])
            action, _ = self.policy.sample(x, self.generator)
        self._drawn = action[0].clone()
        return self.policy.to_env(action[0])

    def record(self, observation: Any, action: Any, reward: float, next_observation: Any,
               terminated: bool, truncated: bool) -> None:
        row = torch.empty(self.reader.size)
        self.reader.write(observation, row.numpy())
        self._episode["observation"].append(row)
        self._episode["action"].append(self._drawn)
        self._episode["reward"].append(reward)
        if terminated or truncated:
            tail = 0.0
            if truncated and not terminated and self.baseline:
                with torch.inference_mode():
                    tail = float(self.value(self.reader.one(next_observation))[0, 0])
            self._finish_episode(tail)

    def _finish_episode(self, tail: float) -> None:
        """Returns-to-go of the episode just ended (``tail``: the value after a time limit)."""
        rewards = self._episode["reward"]
        returns = np.empty(len(rewards), dtype=np.float32)
        running = tail
        for t in range(len(rewards) - 1, -1, -1):
            running = rewards[t] + self.gamma * running
            returns[t] = running
        self._batch.append((torch.stack(self._episode["observation"]),
                            torch.stack(self._episode["action"]), torch.from_numpy(returns)))
        self._episode = {"observation": [], "action": [], "reward": []}
        if len(self._batch) >= self.episodes_per_update:
            self._update()
            self._batch = []

    def _update(self) -> None:
        x, actions, returns = (torch.cat(parts) for parts in zip(*self._batch, strict=True))
        with torch.no_grad():
            weight = returns - self.value(x).squeeze(1) if self.baseline else returns.clone()
        if self.normalize and len(weight) > 1:
            weight = (weight - weight.mean()) / (weight.std() + 1e-8)
        log_p, entropy = self.policy.log_prob_entropy(x, actions)
        policy_loss = -(log_p * weight).mean()
        loss = policy_loss - self.entropy_coef * entropy.mean()
        self.policy_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.policy_optimizer.step()
        value_loss = torch.zeros(())
        if self.baseline:
            for _ in range(self.value_steps):
                value_loss = (self.value(x).squeeze(1) - returns).square().mean()
                self.value_optimizer.zero_grad(set_to_none=True)
                value_loss.backward()
                self.value_optimizer.step()
        for key, number in zip(LOGS, (policy_loss, value_loss, entropy.mean()), strict=True):
            self._sums[key] += float(number.detach())
        self._count += 1
        self.updates += 1

    def logs(self) -> dict[str, float]:
        record = {key: total / self._count if self._count else float("nan")
                  for key, total in self._sums.items()}
        record["updates"] = self.updates
        self._sums, self._count = dict.fromkeys(LOGS, 0.0), 0
        return record

    # -- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return module_weights({"policy": self.policy, "value": self.value})

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        load_module_weights({"policy": self.policy, "value": self.value}, tensors)

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        from quanta.train.checkpoint import flatten_state

        tensors: dict[str, torch.Tensor] = {}
        for i, (x, actions, returns) in enumerate(self._batch):
            tensors.update({f"batch.{i}.observation": x, f"batch.{i}.action": actions,
                            f"batch.{i}.returns": returns})
        meta: dict[str, Any] = {"batch": len(self._batch), "updates": self.updates,
                                "sums": self._sums, "count": self._count}
        for name, optimizer in (("policy_optimizer", self.policy_optimizer),
                                ("value_optimizer", self.value_optimizer)):
            flat, meta[name] = flatten_state(optimizer.state_dict(), name)
            tensors.update(flat)
        return tensors, meta  # saved at an episode's end: no episode is under way

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        from quanta.train.checkpoint import unflatten_state

        self._batch = [(tensors[f"batch.{i}.observation"], tensors[f"batch.{i}.action"],
                        tensors[f"batch.{i}.returns"]) for i in range(meta["batch"])]
        self.updates, self._sums, self._count = meta["updates"], dict(meta["sums"]), meta["count"]
        for name, optimizer in (("policy_optimizer", self.policy_optimizer),
                                ("value_optimizer", self.value_optimizer)):
            optimizer.load_state_dict(unflatten_state(tensors, meta[name], name))


__all__ = ["Reinforce"]
