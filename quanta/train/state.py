"""The training state: the model, its named parts and one optimiser (and schedule) per part.

A task's :meth:`~quanta.tasks.base.Task.optimised_parts` names the parts of
the model that are trained by their own optimiser (``{"model": model}`` for
one network; ``{"generator": ..., "discriminator": ...}`` for a GAN). Every
optimiser gets the configured optimiser type, learning rate (times the part's
``part_lr`` factor: a critic learning faster than its generator), learning-rate
groups and weight penalty for its part. The task's training step calls
:meth:`TrainingState.step` for each part it updates; the trainer sets every
optimiser's learning rate from the one schedule and checkpoints all of them.

Under ``torchrun`` (:mod:`quanta.train.distributed`) the gradients are averaged over the ranks
before every optimiser step, so every rank keeps the same weights. A task that trains the whole
model as its one part (``{"model": model}``) gets ``model`` wrapped in
``DistributedDataParallel`` (:class:`RankParallel`): the averaging overlaps the backward pass.
A step whose forward does not pass through that wrapper (a model's own ``encode``), and every
part of a task with several (a GAN's generator and critic, each called through the model's own
methods), has its part's gradients averaged in one all-reduce after backward
(:func:`~quanta.train.distributed.average_gradients`). Either way, rank 0's initial weights are
given to every rank first, when a training step first reaches for the model (so that a state
that only predicts starts no collective).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from quanta.errors import UserError
from quanta.train.config import TrainConfig
from quanta.train.device import autocast, autocast_dtype
from quanta.train.distributed import average_gradients, broadcast_module, world
from quanta.train.optim import build_optimizer
from quanta.train.regularization import weight_penalty
from quanta.train.schedules import set_learning_rates
from quanta.train.transfer import freeze, parameter_groups


class TrainingState:
    """Named model parts with their optimisers, weight penalties and base learning rates.

    Attributes:
        module: the model as built (its ``state_dict`` is what is saved).
        model: what the training step calls: ``module``, or its ``torch.compile`` wrapper
            (under torchrun, around its :class:`RankParallel` wrapper).
        evaluated: what evaluation calls: ``model`` without the DDP wrapper.
        parts: ``{name: sub-module}`` each trained by optimiser ``name``.
        optimizers: ``{name: torch.optim.Optimizer}``.
        frozen: parameter names frozen by ``config.freeze``.
    """

    def __init__(self, model: torch.nn.Module, parts: dict[str, torch.nn.Module], config: TrainConfig,
                 device: torch.device):
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
        place = world()
        if place.distributed and config.batch_size % place.size:
            raise UserError(f"train.batch_size: {config.batch_size} is not a multiple of the "
                            f"{place.size} ranks of this torchrun job; each rank takes an equal "
                            "slice of every batch")
        #: what evaluation and prediction call: the model (compiled, if asked) without the DDP
        #: wrapper, whose forward would take part in collectives that a lone rank never matches
        self.evaluated = torch.compile(model) if config.compile else model
        self._module, self._model = model, self.evaluated
        self.parallel: RankParallel | None = None  # the DDP wrapper, under torchrun
        self._joined = not place.distributed  # the ranks are joined at the first training step
        self.distributed = place.distributed  # one process: no gradient averaging in step()

    @property
    def module(self) -> torch.nn.Module:
        """The model as built (under torchrun, with rank 0's weights once training began)."""
        if not self._joined:
            self._join()
        return self._module

    @property
    def model(self) -> torch.nn.Module:
        """What the training step calls (under torchrun, through :class:`RankParallel`)."""
        if not self._joined:
            self._join()
        return self._model

    def _join(self) -> None:
        """Give every rank rank 0's weights and wrap a one-part model in DDP.

        Done when a training step first reaches for the model, which every rank does together;
        a state that only predicts (on rank 0 alone, say) never starts a collective.
        """
        self._joined = True
        broadcast_module(self._module)
        if len(self.parts) == 1 and next(iter(self.parts.values())) is self._module:
            self.parallel = RankParallel(self._module, self.device)
            self._model = torch.compile(self.parallel) if self.config.compile else self.parallel

    def autocast(self) -> AbstractContextManager:
        """The configured mixed-precision context (a no-op for float32)."""
        return autocast(self.device, self.amp_dtype)

    def step(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` (plus part ``name``'s weight penalty) and step optimiser ``name``."""
        optimizer, penalty = self.optimizers[name], self.penalties[name]
        objective = loss + penalty() if penalty is not None else loss
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if self.distributed and (self.parallel is None or not self.parallel.consume_forward()):
            # DDP did not average the gradients in backward: one all-reduce of the part's
            average_gradients([p for p in self.parts[name].parameters() if p.requires_grad])
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


class RankParallel(torch.nn.parallel.DistributedDataParallel):
    """``DistributedDataParallel`` around a whole model, through which the model's own attributes stay visible.

    Tasks call the model's methods and attributes (``representation``, ``reconstruction_term``)
    on what they are given; those fall through to the wrapped model. A forward through the
    wrapper is noted, so that :meth:`TrainingState.step` knows whether the gradients of the
    step were averaged in backward. Buffers (batch-norm statistics) are rank 0's at every
    forward; parameters a forward leaves unused are allowed (``find_unused_parameters``).
    """

    def __init__(self, model: torch.nn.Module, device: torch.device):
        super().__init__(model, device_ids=[device] if device.type == "cuda" else None,
                         forward_sync_buffers=True, find_unused_parameters=True)
        self._forwarded = False

    def forward(self, *inputs, **kwargs):
        self._forwarded = self._forwarded or torch.is_grad_enabled()
        return super().forward(*inputs, **kwargs)

    def consume_forward(self) -> bool:
        """Whether a forward with gradients passed through the wrapper since the last call."""
        forwarded, self._forwarded = self._forwarded, False
        return forwarded

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":  # not yet set, during construction
                raise
            return getattr(self.module, name)
