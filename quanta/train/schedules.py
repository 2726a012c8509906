"""Learning-rate schedules as closed-form functions of the epoch and the step.

A schedule multiplies each parameter group's base learning rate ``lr0`` (the
configured ``lr`` times the group's ``lr_groups`` multiplier) by a factor that
depends only on where training is: the epoch (0-based, epochs completed before
the current one) and the optimiser step (0-based, steps taken before the
current one). Because the factor is a pure function of ``(epoch, step)`` and
both are saved in every checkpoint, a resumed run continues with exactly the
same learning rates — there is no hidden scheduler state to store.

Per-epoch schedules (the lr is constant within an epoch, set before its first step):

- ``step``:         ``lr0 * gamma ** floor(epoch / step_size)``
- ``exponential``:  ``lr0 * gamma ** epoch``
- ``inverse_time``: ``lr0 / (1 + decay_rate * epoch)`` (the 1/t decay of stochastic approximation)
- ``cosine``:       ``min_lr + (lr0 - min_lr) * (1 + cos(pi * epoch / epochs)) / 2`` (Loshchilov & Hutter 2017, no restarts)

Per-step schedules (the lr is set before every optimiser step):

- ``one_cycle`` (Smith & Topin 2019, "Super-convergence"): over the
  ``total = epochs * steps_per_epoch`` steps the lr rises from ``lr0 / 25`` to
  ``lr0`` during the first ``pct_start`` of the steps, then falls to
  ``lr0 / 25 / 1e4``, both along half-cosines (PyTorch's ``OneCycleLR``
  recipe; momentum is not cycled).
- linear warm-up (``warmup_steps = W > 0``), combinable with every per-epoch
  schedule: the factor of step ``s`` is multiplied by ``min(1, (s + 1) / W)``,
  so the first step uses ``lr0 / W`` and step ``W - 1`` onwards the full
  schedule. Warm-up protects adaptive optimisers and large batches from the
  huge first updates of a freshly initialised network (Goyal et al. 2017).

A per-step schedule costs a few floating-point operations and one assignment
per parameter group after every step — no tensor work and no device sync.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PER_EPOCH = ("none", "step", "exponential", "inverse_time", "cosine")
PER_STEP = ("one_cycle",)
ONE_CYCLE_START_DIVISOR = 25.0  # one_cycle starts at lr0 / 25 ...
ONE_CYCLE_FINAL_DIVISOR = 1e4  # ... and ends at lr0 / 25 / 1e4


@dataclass(frozen=True)
class LearningRateSchedule:
    """The factor multiplying the base learning rates, as a function of (epoch, step).

    Args:
        name: one of ``PER_EPOCH + PER_STEP``.
        epochs: total number of epochs of the run.
        steps_per_epoch: optimiser steps in one epoch (for one_cycle).
        step_size, gamma: the ``step`` and ``exponential`` parameters.
        decay_rate: ``k`` of ``inverse_time``.
        min_lr_fraction: the cosine floor as a fraction of ``lr0``.
        pct_start: the rising fraction of ``one_cycle``.
        warmup_steps: length of the linear warm-up (0: none).
    """

    name: str = "none"
    epochs: int = 1
    steps_per_epoch: int = 1
    step_size: int = 10
    gamma: float = 0.1
    decay_rate: float = 0.1
    min_lr_fraction: float = 0.0
    pct_start: float = 0.3
    warmup_steps: int = 0

    @property
    def per_step(self) -> bool:
        """True when the learning rate changes within an epoch (one_cycle, warm-up)."""
        return self.name in PER_STEP or self.warmup_steps > 0

    def epoch_factor(self, epoch: int) -> float:
        """Factor of a per-epoch schedule during 0-based ``epoch``."""
        if self.name == "step":
            return self.gamma ** (epoch // self.step_size)
        if self.name == "exponential":
            return self.gamma ** epoch
        if self.name == "inverse_time":
            return 1.0 / (1.0 + self.decay_rate * epoch)
        if self.name == "cosine":
            floor = self.min_lr_fraction
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * epoch / max(self.epochs, 1)))
        return 1.0

    def step_factor(self, step: int) -> float:
        """Factor of the per-step part (one_cycle, warm-up) before 0-based optimiser ``step``."""
        factor = 1.0
        if self.name == "one_cycle":
            factor = one_cycle(step, self.epochs * self.steps_per_epoch, self.pct_start)
        if self.warmup_steps > 0:
            factor *= min(1.0, (step + 1) / self.warmup_steps)
        return factor

    def factor(self, epoch: int, step: int) -> float:
        """The full factor during 0-based ``epoch`` before 0-based optimiser ``step``."""
        return self.epoch_factor(epoch) * self.step_factor(step)


def one_cycle(step: int, total: int, pct_start: float = 0.3) -> float:
    """The one-cycle factor (relative to the peak lr) before 0-based ``step`` of ``total``."""
    start = 1.0 / ONE_CYCLE_START_DIVISOR
    end = start / ONE_CYCLE_FINAL_DIVISOR
    peak_step = max(pct_start * total - 1.0, 1.0)  # PyTorch's phase boundary
    if step <= peak_step:
        return _cosine_between(start, 1.0, step / peak_step)
    remaining = max(total - 1.0 - peak_step, 1.0)
    return _cosine_between(1.0, end, min((step - peak_step) / remaining, 1.0))


def _cosine_between(a: float, b: float, fraction: float) -> float:
    """From ``a`` (fraction 0) to ``b`` (fraction 1) along half a cosine."""
    return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def set_learning_rates(optimizer: torch.optim.Optimizer, base_lrs: list[float], factor: float) -> None:
    """Set every parameter group's lr to its base lr times ``factor`` (Python floats, no sync)."""
    for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
        group["lr"] = base * factor


__all__ = ["PER_EPOCH", "PER_STEP", "LearningRateSchedule", "one_cycle", "set_learning_rates"]
