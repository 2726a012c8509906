"""Transfer learning: start from an earlier run's weights, freeze some, tune others gently.

The recipe of the lectures: train a network on a large task A, keep its trunk
(the layers that learned general features), replace its head (the last
layer, whose size belongs to task A) and train on task B — often with the
trunk frozen, or with a smaller learning rate for it than for the new head.

- :func:`load_matching` (option ``init_from``) loads every weight of an earlier
  model whose name and shape match; weights whose shape differs (the old head)
  are skipped and reported, as are names that exist on one side only. The
  source is a run's method folder (its ``model.safetensors`` is read) or a
  ``.safetensors`` file written by quanta (keys ``model.<name>``) or by plain
  ``safetensors`` (bare parameter names).
- :func:`freeze` (option ``freeze``) sets ``requires_grad=False`` on
  parameters whose name matches a shell-style pattern (``"layers.0.*"``,
  ``"*.bias"``); the optimiser and penalties then leave them out. A frozen
  BatchNorm keeps updating its running statistics in training mode.
- :func:`parameter_groups` (option ``lr_groups``) gives the optimiser one
  parameter group per pattern, with learning rate ``lr * multiplier``; the
  first matching pattern wins, unmatched parameters keep ``lr``. Schedules
  scale every group alike.

Patterns use :mod:`fnmatch` on the names of ``model.named_parameters()``; a
pattern that matches nothing is an error (it is almost always a typo).
Input standardisation is refitted on the new training split.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from quanta.errors import UserError

MODEL_FILE = "model.safetensors"  # a trained network's weights in its method folder


@dataclass
class TransferReport:
    """What :func:`load_matching` did: names loaded, skipped (shape mismatch), missing, unexpected."""

    source: str
    loaded: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)  # name -> (model, file) shapes
    missing: list[str] = field(default_factory=list)  # in the model, not in the file: kept as initialised
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model: ignored

    def summary(self) -> str:
        """One line for logs."""
        text = f"init_from {self.source}: loaded {len(self.loaded)} tensors"
        if self.mismatched:
            shapes = ", ".join(f"{k} {m}≠{f}" for k, (m, f) in self.mismatched.items())
            text += f"; skipped {len(self.mismatched)} with other shapes ({shapes})"
        if self.missing:
            text += f"; {len(self.missing)} new ({', '.join(self.missing)})"
        if self.unexpected:
            text += f"; {len(self.unexpected)} unused ({', '.join(self.unexpected)})"
        return text

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1))


def _weights_file(source: str | Path) -> Path:
    path = Path(source)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.exists():
        raise UserError(f"init_from: {path} not found; give a run's method folder or its {MODEL_FILE}")
    return path


def read_weights(source: str | Path) -> dict[str, torch.Tensor]:
    """The model tensors stored at ``source`` (a method folder or a .safetensors file), by name."""
    from quanta.train.checkpoint import load_checkpoint

    path = _weights_file(source)
    try:
        tensors, _ = load_checkpoint(path)
    except UserError:  # a plain safetensors file without quanta's header
        import safetensors.torch

        try:
            tensors = safetensors.torch.load_file(str(path))
        except Exception as error:  # noqa: BLE001 - any reading failure is the file's fault
            raise UserError(f"init_from: {path} is not a safetensors file ({error})") from None
    if any(k.startswith("model.") for k in tensors):
        return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    return tensors


def load_matching(model: nn.Module, source: str | Path) -> TransferReport:
    """Copy into ``model`` every stored tensor whose name and shape match; report the rest."""
    stored = read_weights(source)
    own = model.state_dict()
    report = TransferReport(str(source))
    update = {}
    for name, tensor in own.items():
        if name not in stored:
            report.missing.append(name)
        elif tuple(stored[name].shape) != tuple(tensor.shape):
            report.mismatched[name] = (list(tensor.shape), list(stored[name].shape))
        else:
            update[name] = stored[name].to(dtype=tensor.dtype)
            report.loaded.append(name)
    report.unexpected = [name for name in stored if name not in own]
    if not update:
        raise UserError(f"init_from: no tensor of {source} fits the model (names or shapes all differ)")
    model.load_state_dict(update, strict=False)
    return report


def _matching(model: nn.Module, pattern: str, option: str) -> list[str]:
    names = [name for name, _ in model.named_parameters() if fnmatch.fnmatchcase(name, pattern)]
    if not names:
        shown = ", ".join(name for name, _ in model.named_parameters())
        raise UserError(f"{option}: pattern '{pattern}' matches no parameter; the model has: {shown}")
    return names


def freeze(model: nn.Module, patterns: list[str]) -> list[str]:
    """Set ``requires_grad=False`` on parameters matching any pattern; returns their names."""
    frozen: list[str] = []
    parameters = dict(model.named_parameters())
    for pattern in patterns:
        for name in _matching(model, pattern, "freeze"):
            parameters[name].requires_grad_(False)
            frozen.append(name)
    return list(dict.fromkeys(frozen))


def parameter_groups(model: nn.Module, lr: float, multipliers: dict[str, float]) -> list[dict]:
    """Optimiser parameter groups: one per pattern (lr times its multiplier), then the rest at ``lr``."""
    assigned: dict[str, str] = {}
    for pattern in multipliers:
        for name in _matching(model, pattern, "lr_groups"):
            assigned.setdefault(name, pattern)
    groups = [{"params": [], "lr": lr * m, "pattern": p} for p, m in multipliers.items()]
    rest = {"params": [], "lr": lr, "pattern": "*"}
    index = {p: i for i, p in enumerate(multipliers)}
    for name, parameter in model.named_parameters():
        pattern = assigned.get(name)
        (groups[index[pattern]] if pattern is not None else rest)["params"].append(parameter)
    return [g for g in [*groups, rest] if g["params"]]


__all__ = ["TransferReport", "freeze", "load_matching", "parameter_groups", "read_weights"]
