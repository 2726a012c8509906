"""The training options of a network method, as one typed config.

Defaults carry a comment saying why. The experiment layer validates user input
into this dataclass once; below it, code reads plain attributes. Options that
only make sense together (a Nesterov optimiser needs momentum, one-cycle has
its own warm-up) are checked here too, so a bad combination fails before any
data is generated.
"""

from __future__ import annotations

from dataclasses import asdict, field, fields
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

# the SGD family first: the lectures' warning is that a well-tuned SGD with
# momentum often generalises better than the adaptive methods
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "inverse_time", "cosine", "one_cycle")

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
Schedule = Literal["none", "step", "exponential", "inverse_time", "cosine", "one_cycle"]
Fraction = Annotated[float, Field(ge=0, lt=1)]


@dataclass(config=ConfigDict(extra="forbid"))
class TrainConfig:
    """How a network is trained (epochs, batches, optimiser, schedule, regularisation, transfer, device)."""

    epochs: Annotated[int, Field(gt=0)] = 20
    batch_size: Annotated[int, Field(gt=0)] = 256  # small enough to regularise, large enough to keep a CPU busy
    # -- optimiser (quanta.train.optim) --
    optimizer: Optimizer = "adam"  # the robust default; SGD+momentum is first-class
    lr: Annotated[float, Field(gt=0)] = 1e-3  # Adam's customary step size (the peak lr of one_cycle)
    momentum: Fraction = 0.9  # sgd, momentum, nesterov (sgd with momentum 0 is plain gradient descent)
    nesterov: bool = False  # sgd only; optimizer "nesterov" sets it
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)  # adam, adamw: decay of the first and second moment averages
    eps: Annotated[float, Field(gt=0)] | None = None  # adagrad, rmsprop, adadelta, adam, adamw; None: PyTorch's default
    alpha: Fraction = 0.99  # rmsprop: decay of the running average of squared gradients
    rho: Fraction = 0.9  # adadelta: decay of the running averages of squared gradients and updates
    weight_decay: Annotated[float, Field(ge=0)] = 0.0  # L2 via the optimiser (decoupled for adamw)
    # -- learning-rate schedule (quanta.train.schedules) --
    schedule: Schedule = "none"
    step_size: Annotated[int, Field(gt=0)] = 10  # epochs between lr drops (schedule "step")
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1  # lr factor per drop ("step") or per epoch ("exponential")
    decay_rate: Annotated[float, Field(ge=0)] = 0.1  # k of inverse_time decay lr0 / (1 + k * epoch)
    min_lr: Annotated[float, Field(ge=0)] = 0.0  # floor of the cosine schedule
    pct_start: Annotated[float, Field(gt=0, lt=1)] = 0.3  # one_cycle: fraction of steps spent rising to lr
    warmup_steps: Annotated[int, Field(ge=0)] = 0  # linear warm-up over this many optimiser steps, then the schedule
    # -- regularisation (quanta.train.regularization, quanta.train.augment) --
    l1: Annotated[float, Field(ge=0)] = 0.0  # L1 penalty l1 * sum|w| on weights (not biases or norms)
    l2: Annotated[float, Field(ge=0)] = 0.0  # L2 penalty l2 * sum w^2 as a loss term; l1 and l2 = elastic net
    augment: list[str | dict[str, Any]] = field(default_factory=list)  # training-batch augmentations, in order
    patience: Annotated[int, Field(ge=0)] = 5  # early stopping: epochs without validation-loss improvement; 0 turns it off
    monitor: str = "loss"  # the validation metric early stopping watches (its direction comes from the task)
    clip_grad_norm: Annotated[float, Field(gt=0)] | None = None  # clip the global gradient norm to this value
    # regression targets are shifted and scaled to unit variance (training split), outputs scaled back
    standardize_targets: bool = True
    # -- transfer learning (quanta.train.transfer) --
    init_from: str | None = None  # a run's method folder or a model.safetensors: matching weights are loaded
    freeze: list[str] = field(default_factory=list)  # parameter-name patterns kept fixed, e.g. "layers.0.*"
    lr_groups: dict[str, Annotated[float, Field(ge=0)]] = field(default_factory=dict)  # pattern -> lr multiplier
    # a task's part (a GAN's generator, critic) -> lr multiplier: two time-scale updates (Heusel et al. 2017)
    part_lr: dict[str, Annotated[float, Field(gt=0)]] = field(default_factory=dict)
    # -- prediction --
    # Monte Carlo dropout: predictions are the mean of this many passes with dropout on, their
    # spread the uncertainty (quanta.train.mc_dropout); 0: one pass, dropout off
    mc_dropout: Annotated[int, Field(ge=0)] = 0
    # -- device --
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA GPUs that support it
    compile: bool = False  # torch.compile the model (pays off on GPUs for long runs)
    progress: bool = True  # live progress display (plain lines when not on a terminal)
    seed: int = 1  # initial weights, batch order, dropout and augmentation

    @field_validator("augment")
    @classmethod
    def _known_augmentations(cls, value: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        from quanta.train.augment import build_augmentations

        build_augmentations(value)  # raises a ValueError naming the entry and what is allowed
        return value

    # combinations, checked field by field so that the message names the field and its value
    @field_validator("momentum")
    @classmethod
    def _momentum_for_named_sgd(cls, value: float, info: ValidationInfo) -> float:
        optimizer = info.data.get("optimizer")
        if optimizer in ("momentum", "nesterov") and value <= 0:
            raise ValueError(f"optimizer '{optimizer}' needs momentum > 0")
        return value

    @field_validator("nesterov")
    @classmethod
    def _nesterov_for_sgd(cls, value: bool, info: ValidationInfo) -> bool:
        optimizer = info.data.get("optimizer")
        if value and optimizer not in ("sgd", "nesterov"):
            raise ValueError(f"nesterov applies to the sgd optimizer, not '{optimizer}'")
        return value

    @field_validator("warmup_steps")
    @classmethod
    def _one_warmup(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("schedule") == "one_cycle":
            raise ValueError("schedule 'one_cycle' has its own warm-up (pct_start); set warmup_steps to 0")
        return value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
