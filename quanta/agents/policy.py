"""A stochastic policy π(a|s) as policy-gradient methods need it: sample, log-probability, entropy.

The policy network maps an observation to the parameters of a distribution
over actions:

- Discrete actions: logits of a categorical distribution; the greedy action is
  the most probable one.
- Box actions: the mean of a diagonal Gaussian whose log standard deviation is
  a learned vector of its own (independent of the state, as in the PPO paper's
  continuous-control runs); the greedy action is the mean. The environment gets
  the action clipped to the space's bounds, while the log-probability is that
  of the unclipped draw (the policy's own sample).

Samples come from a given ``torch.Generator`` so that a seeded run draws the
same actions again. The agents read observations through
:class:`quanta.agents.base.ObservationReader` (a preallocated input row, one-hot
for a Discrete observation space), so acting allocates nothing per step.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from quanta.agents.base import observation_size
from quanta.agents.networks import mlp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Policy(nn.Module):
    """π(a|s): an MLP from the observation to a categorical's logits or a Gaussian's mean."""

    def __init__(self, observation_space: Any, action_space: Any, hidden: list[int],
                 activation: Literal["tanh", "relu"] = "tanh", last_gain: float | None = 0.01,
                 log_std: float = 0.0):
        from gymnasium import spaces

        super().__init__()
        self.discrete = isinstance(action_space, spaces.Discrete)
        size = observation_size(observation_space)
        if self.discrete:
            self.actions, self.action_start, self.action_shape = int(action_space.n), int(action_space.start), ()
            self.net = mlp(size, hidden, self.actions, activation, last_gain)
        else:
            self.action_shape = tuple(action_space.shape)
            self.actions = int(np.prod(self.action_shape))
            self.net = mlp(size, hidden, self.actions, activation, last_gain)
            self.log_std = nn.Parameter(torch.full((self.actions,), float(log_std)))
            self.register_buffer("low", torch.as_tensor(action_space.low, dtype=torch.float32).reshape(-1))
            self.register_buffer("high", torch.as_tensor(action_space.high, dtype=torch.float32).reshape(-1))
            self._dtype = action_space.dtype

    @property
    def action_width(self) -> int:
        """Columns of a stored action: 1 for a discrete action (its index), the Box's size otherwise."""
        return 1 if self.discrete else self.actions

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw actions for the rows of ``x``: ``(actions[N, width], log π(a|s)[N])``."""
        out = self.net(x)
        if self.discrete:
            log_p = torch.log_softmax(out, dim=1)
            actions = torch.multinomial(log_p.exp(), 1, generator=generator)
            return actions.float(), log_p.gather(1, actions).squeeze(1)
        std = self.log_std.exp()
        noise = torch.randn(out.shape, generator=generator)
        actions = out + std * noise
        log_p = (-0.5 * noise.square() - self.log_std - _LOG_SQRT_2PI).sum(dim=1)
        return actions, log_p

    def log_prob_entropy(self, x: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log π(a|s)[N]`` of stored ``actions[N, width]`` and the entropy of π(·|s) per row."""
        out = self.net(x)
        if self.discrete:
            log_p = torch.log_softmax(out, dim=1)
            chosen = log_p.gather(1, actions.long()).squeeze(1)
            return chosen, -(log_p.exp() * log_p).sum(dim=1)
        z = (actions - out) * torch.exp(-self.log_std)
        log_p = (-0.5 * z.square() - self.log_std - _LOG_SQRT_2PI).sum(dim=1)
        entropy = (self.log_std + 0.5 + _LOG_SQRT_2PI).sum().expand(x.shape[0])
        return log_p, entropy

    def greedy(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable action (discrete) or the mean (Box), ``[N, width]``."""
        out = self.net(x)
        return out.argmax(dim=1, keepdim=True).float() if self.discrete else out

    def to_env(self, action: torch.Tensor) -> Any:
        """One stored action row as the environment takes it (an int, or clipped to the bounds)."""
        if self.discrete:
            return int(action[0]) + self.action_start
        clipped = torch.minimum(torch.maximum(action, self.low), self.high)
        return clipped.numpy().astype(self._dtype).reshape(self.action_shape)


__all__ = ["Policy"]
