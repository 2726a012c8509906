"""The training state: the model, its named parts and one optimiser (and schedule) per part.

A task's :meth:`~quanta.tasks.base.Task.optimised_parts` names the parts of
the model that are trained by their own optimiser (``{"model": model}`` for
one network; ``{"generator": ..., "discriminator": ...}`` for a GAN). Every
optimiser gets the configured optimiser type, learning rate (times the part's
``part_lr`` factor: a critic learning faster than its generator), learning-rate
groups and weight penalty for its part. The task's training step calls
:meth:`TrainingState.step` for each part it updates; the trainer sets every
optimiser's learning rate from the one schedule and checkpoints all of them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from quanta.errors import UserError
from quanta.train.config import TrainConfig
from quanta.train.device import autocast, autocast_dtype
from quanta.train.optim import build_optimizer
from quanta.train.regularization import weight_penalty
from quanta.train.schedules import set_learning_rates
from quanta.train.transfer import freeze, parameter_groups


class TrainingState:
    """Named model parts with their optimisers, weight penalties and base learning rates.

    Attributes:
        module: the model as built (its ``state_dict`` is what is saved).
        model: what the training step calls: ``module``, or its ``torch.compile`` wrapper.
        parts: ``{name: sub-module}`` each trained by optimiser ``name``.
        optimizers: ``{name: torch.optim.Optimizer}``.
        frozen: parameter names frozen by ``config.freeze``.
    """

    def __init__(self, model: torch.nn.Module, parts: dict[str, torch.nn.Module], config: TrainConfig,
                 device: torch.device):
        self.module = model
        self.config = config
        self.device = device
        self.frozen = freeze(model, config.freeze) if config.freeze else []
        if not any(p.requires_grad for p in model.parameters()):
            raise UserError(f"freeze: the patterns {config.freeze} freeze every parameter; nothing would train")
        self.parts = dict(parts)
        unknown = sorted(set(config.part_lr) - set(self.parts))
        if unknown:
            raise UserError(f"train.part_lr: '{unknown[0]}' is not a part this task trains; parts: "
                            f"{', '.join(self.parts)}")
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.penalties = {}
        for name, part in self.parts.items():
            parameters = (parameter_groups(part, config.lr, config.lr_groups) if config.lr_groups
                          else part.parameters())
            self.optimizers[name] = build_optimizer(parameters, config, device)
            for group in self.optimizers[name].param_groups:  # the part's own time scale
                group["lr"] *= config.part_lr.get(name, 1.0)
            self.penalties[name] = weight_penalty(part, config.l1, config.l2)
        self.base_lrs = {name: [group["lr"] for group in optimizer.param_groups]
                         for name, optimizer in self.optimizers.items()}
        self.amp_dtype = autocast_dtype(device, config.precision)
        self.model = torch.compile(model) if config.compile else model

    def autocast(self) -> AbstractContextManager:
        """The configured mixed-precision context (a no-op for float32)."""
        return autocast(self.device, self.amp_dtype)

    def step(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` (plus part ``name``'s weight penalty) and step optimiser ``name``."""
        optimizer, penalty = self.optimizers[name], self.penalties[name]
        objective = loss + penalty() if penalty is not None else loss
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if self.config.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.parts[name].parameters(), self.config.clip_grad_norm)
        optimizer.step()

    def set_learning_rates(self, factor: float) -> None:
        """Every optimiser's learning rates: its base rates times the schedule's ``factor``."""
        for name, optimizer in self.optimizers.items():
            set_learning_rates(optimizer, self.base_lrs[name], factor)

    @property
    def lr(self) -> float:
        """The first optimiser's first learning rate (logged per epoch)."""
        return next(iter(self.optimizers.values())).param_groups[0]["lr"]
