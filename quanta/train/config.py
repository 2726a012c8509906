"""The training options of a network method, as one typed config.

Defaults carry a comment saying why. The experiment layer validates user input
into this dataclass once; below it, code reads plain attributes.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")


@dataclass(config=ConfigDict(extra="forbid"))
class TrainConfig:
    """How a network is trained (epochs, batches, optimiser, schedule, stopping, device)."""

    epochs: Annotated[int, Field(gt=0)] = 20
    batch_size: Annotated[int, Field(gt=0)] = 256  # small enough to regularise, large enough to keep a CPU busy
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"  # the robust default; SGD+momentum is first-class
    lr: Annotated[float, Field(gt=0)] = 1e-3  # Adam's customary step size
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: Annotated[float, Field(ge=0)] = 0.0  # L2 penalty (decoupled for adamw)
    schedule: Literal["none", "step", "cosine"] = "none"
    step_size: Annotated[int, Field(gt=0)] = 10  # epochs between lr drops (schedule "step")
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1  # lr factor at each drop (schedule "step")
    patience: Annotated[int, Field(ge=0)] = 5  # early stopping: epochs without validation-loss improvement; 0 turns it off
    clip_grad_norm: Annotated[float, Field(gt=0)] | None = None  # clip the global gradient norm to this value
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA GPUs that support it
    compile: bool = False  # torch.compile the model (pays off on GPUs for long runs)
    progress: bool = True  # live progress display (plain lines when not on a terminal)
    seed: int = 1  # initial weights, batch order and dropout

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
