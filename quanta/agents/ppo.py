"""Proximal policy optimisation (Schulman et al. 2017): many small policy steps from each rollout.

The agent plays ``rollout_steps`` transitions with its stochastic policy
π_old (a rollout may span several episodes), then estimates each step's
advantage by generalised advantage estimation::

    δ_t = r_t + γ V(s_{t+1}) − V(s_t)              (V(s_{t+1}) = 0 after a termination)
    A_t = δ_t + γ λ A_{t+1}                        (the sum stops at an episode's end)

An episode cut by its time limit, and the rollout's last step, are bootstrapped
with the critic's V(s_{t+1}); a terminated one is not: a truncation is not the
end of the task. ``epochs`` passes of shuffled minibatches then maximise the
clipped surrogate objective with ratio ρ = π(a|s) / π_old(a|s)::

    L = E[min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)] − c_v (V(s) − R)² / 2 + c_H H[π(·|s)]

(R = A + V_old, the value target; the value loss optionally clipped around
V_old as in common implementations; the advantages standardised over the
rollout), by Adam with the gradient norm clipped, the learning rate decaying
linearly to zero over the step budget if asked. The actor and the critic are
separate tanh MLPs; the policy head starts with small weights (a nearly uniform
first policy). Discrete actions are categorical, Box actions a diagonal
Gaussian with a learned log standard deviation (actions clipped to the bounds
when played); the greedy policy takes the argmax or the mean.

The defaults reach CartPole-v1's 500 (the slow learning test states the steps
over seeds). A partly filled rollout is part of the checkpoint, so a training
resumed at an episode's end continues exactly.
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
CLIP = Annotated[float, Field(gt=0, lt=1, description="a number in (0, 1)")]
LOGS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


class PPO(Agent):
    """Proximal policy optimisation: clipped policy ratio, generalised advantage estimates, actor and critic

    Rollouts of ``rollout_steps`` transitions, ``epochs`` passes of
    ``minibatch_size`` minibatches, clip ε = ``clip``, GAE(``gamma``,
    ``gae_lambda``); discrete (categorical) or Box (diagonal Gaussian) actions.
    """

    name = "ppo"

    @checked("ppo")
    def __init__(self, steps: INTEGER = 100_000, eval_every: INTEGER = 5_000, keep_best: bool = True,
                 target_return: float | None = None, seed: int = 1,
                 hidden: Widths = (64, 64), activation: Literal["tanh", "relu"] = "tanh",
                 rollout_steps: INTEGER = 512, epochs: INTEGER = 10, minibatch_size: INTEGER = 64,
                 learning_rate: POSITIVE = 1e-3, lr_decay: bool = True,
                 gamma: FRACTION = 0.99, gae_lambda: FRACTION = 0.95, clip: CLIP = 0.2,
                 value_clip: Annotated[float, Field(gt=0, description="a number > 0")] | None = None,
                 value_coef: NON_NEGATIVE = 0.5, entropy_coef: NON_NEGATIVE = 0.0,
                 max_grad_norm: POSITIVE = 0.5, normalize_advantages: bool = True,
                 log_std: float = 0.0):
        super().__init__(steps, eval_every, keep_best, target_return, seed)
        self.hidden, self.activation = list(hidden), activation
        self.rollout_steps, self.epochs, self.minibatch_size = rollout_steps, epochs, minibatch_size
        self.learning_rate, self.lr_decay = learning_rate, lr_decay
        self.gamma, self.gae_lambda, self.clip, self.value_clip = gamma, gae_lambda, clip, value_clip
        self.value_coef, self.entropy_coef = value_coef, entropy_coef
        self.max_grad_norm, self.normalize_advantages = max_grad_norm, normalize_advantages
        self.log_std = log_std

    # -- networks and rollout ----------------------------------------------------------------
    def setup(self, observation_space: Any, action_space: Any) -> None:
        self.reader = ObservationReader(observation_space)
        self.policy = Policy(observation_space, action_space, self.hidden, self.activation,
                             last_gain=0.01, log_std=self.log_std)
        self.critic = mlp(self.reader.size, self.hidden, 1, self.activation, last_gain=1.0)
        self._trained = [*self.policy.parameters(), *self.critic.parameters()]
        self.optimizer = torch.optim.Adam(self._trained, lr=self.learning_rate, eps=1e-5)
        n, width = self.rollout_steps, self.policy.action_width
        self.rollout = {"observation": torch.zeros(n, self.reader.size), "action": torch.zeros(n, width),
                        "log_prob": torch.zeros(n), "value": torch.zeros(n), "reward": torch.zeros(n),
                        "terminated": torch.zeros(n), "done": torch.zeros(n), "bootstrap": torch.zeros(n)}
        self._rows = {key: value.numpy() for key, value in self.rollout.items()}
        self.position = self.updates = 0
        self._pending: tuple[torch.Tensor, float, float] | None = None
        self._sums = dict.fromkeys(LOGS, 0.0)
        self._count = 0

    def act(self, observation: Any, explore: bool) -> Any:
        x = self.reader.one(observation)
        with torch.inference_mode():
            if not explore:
                return self.policy.to_env(self.policy.greedy(x)[0])
            action, log_p = self.policy.sample(x, self.generator)
            value = self.critic(x)
        self._pending = (action[0], float(log_p[0]), float(value[0, 0]))
        return self.policy.to_env(action[0])

    def _value(self, observation: Any) -> float:
        with torch.inference_mode():
            return float(self.critic(self.reader.one(observation))[0, 0])

    def record(self, observation: Any, action: Any, reward: float, next_observation: Any,
               terminated: bool, truncated: bool) -> None:
        i, rows = self.position, self._rows
        drawn, log_p, value = self._pending
        self.reader.write(observation, rows["observation"][i])
        rows["action"][i] = drawn.numpy()
        rows["log_prob"][i], rows["value"][i], rows["reward"][i] = log_p, value, reward
        done = terminated or truncated
        rows["terminated"][i], rows["done"][i] = float(terminated), float(done)
        last = i == self.rollout_steps - 1
        # V(s_{t+1}) where the rollout's next row does not give it: a time limit, the rollout's end
        rows["bootstrap"][i] = 0.0 if terminated or not (truncated or last) else self._value(next_observation)
        self.position = i + 1
        if last:
            self._update()
            self.position = 0

    def advantages(self) -> tuple[np.ndarray, np.ndarray]:
        """GAE advantages and value targets of the full rollout (see the module docstring)."""
        rows = self._rows
        value, reward, done = rows["value"], rows["reward"], rows["done"]
        following = np.append(value[1:], 0.0)
        cut = done.astype(bool)
        cut[-1] = True
        following = np.where(cut, rows["bootstrap"], following)
        delta = reward + self.gamma * following - value
        advantage = np.zeros_like(value)
        running = 0.0
        for t in range(len(value) - 1, -1, -1):
            running = delta[t] + (0.0 if cut[t] else self.gamma * self.gae_lambda * running)
            advantage[t] = running
        return advantage, advantage + value

    def _update(self) -> None:
        advantage, returns = (torch.from_numpy(a) for a in self.advantages())
        if self.normalize_advantages:
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        if self.lr_decay:  # linear to 0 over the budget, from the rollout's first step
            start = self.steps_done + 1 - self.rollout_steps
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate * max(1.0 - start / self.steps, 0.0)
        data = self.rollout
        n = self.rollout_steps
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=self.generator)
            for first in range(0, n, self.minibatch_size):
                rows = order[first:first + self.minibatch_size]
                self._step(data["observation"][rows], data["action"][rows], data["log_prob"][rows],
                           data["value"][rows], advantage[rows], returns[rows])
        self.updates += 1

    def _step(self, x: torch.Tensor, action: torch.Tensor, old_log_p: torch.Tensor,
              old_value: torch.Tensor, advantage: torch.Tensor, returns: torch.Tensor) -> None:
        log_p, entropy = self.policy.log_prob_entropy(x, action)
        log_ratio = log_p - old_log_p
        ratio = log_ratio.exp()
        surrogate = torch.minimum(ratio * advantage,
                                  ratio.clamp(1.0 - self.clip, 1.0 + self.clip) * advantage)
        value = self.critic(x).squeeze(1)
        value_error = (value - returns).square()
        if self.value_clip is not None:
            clipped = old_value + (value - old_value).clamp(-self.value_clip, self.value_clip)
            value_error = torch.maximum(value_error, (clipped - returns).square())
        policy_loss, value_loss = -surrogate.mean(), 0.5 * value_error.mean()
        loss = policy_loss + self.value_coef * value_loss - self.entropy_coef * entropy.mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self._trained, self.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            approx_kl = ((ratio - 1.0) - log_ratio).mean()  # the low-variance estimator of KL(old||new)
            clipped_share = ((ratio - 1.0).abs() > self.clip).float().mean()
        numbers = (policy_loss, value_loss, entropy.mean(), approx_kl, clipped_share)
        for key, number in zip(LOGS, numbers, strict=True):
            self._sums[key] += float(number.detach())
        self._count += 1

    def logs(self) -> dict[str, float]:
        record = {key: total / self._count if self._count else float("nan")
                  for key, total in self._sums.items()}
        record.update(updates=self.updates, learning_rate=self.optimizer.param_groups[0]["lr"])
        self._sums, self._count = dict.fromkeys(LOGS, 0.0), 0
        return record

    # -- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        return module_weights({"policy": self.policy, "critic": self.critic})

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        load_module_weights({"policy": self.policy, "critic": self.critic}, tensors)

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        from quanta.train.checkpoint import flatten_state

        tensors = {f"rollout.{k}": v[:self.position].clone() for k, v in self.rollout.items()}
        optimizer, skeleton = flatten_state(self.optimizer.state_dict(), "optimizer")
        tensors.update(optimizer)
        return tensors, {"optimizer": skeleton, "position": self.position, "updates": self.updates,
                         "sums": self._sums, "count": self._count}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        from quanta.train.checkpoint import unflatten_state

        self.position, self.updates = meta["position"], meta["updates"]
        for key, value in self.rollout.items():
            value[:self.position] = tensors[f"rollout.{key}"]
        self.optimizer.load_state_dict(unflatten_state(tensors, meta["optimizer"], "optimizer"))
        self._sums, self._count = dict(meta["sums"]), meta["count"]


__all__ = ["PPO"]
