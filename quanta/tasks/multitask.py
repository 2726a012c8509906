"""Multi-task learning: one trunk, several heads, one weighted loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.base import Task
from quanta.tasks.evaluation import MULTITASK

_HEAD_KEYS = ("task", "target", "weight", "outputs", "params")
_INTEGER_TARGETS = ("multiclass", "segmentation")  # tasks whose loss wants int64 labels


class MultiTask(Task):
    """Several heads on one trunk: a weighted sum of per-head task losses

    Learning related targets together (is this jet a top quark? what is its
    mass?) makes the shared layers learn features useful to all of them, a
    regulariser and often a better tagger (Caruana, "Multitask Learning",
    Machine Learning 28, 41 (1997)).

    Contract: any model whose last layer has ``sum(outputs)`` units is the
    trunk plus all heads; the task splits the model's output along its last
    axis, in the order of ``heads``, and hands each slice to the head's own
    task (``binary``, ``multiclass``, ``regression``, ...). The loss is
    ``sum_h weight_h * loss_h``. The targets of a head are a named array of
    the data set (``y`` or any other, e.g. ``mass``); the task lists the
    arrays it reads in ``target_arrays``, so the trainer moves them to the
    device and passes them as a dict ``{name: tensor}`` to :meth:`metrics`.

    Args:
        heads: ``{head_name: {task, target, weight, outputs, params}}``:
            ``task`` a registered single task (default ``regression``);
            ``target`` the array it learns (default: the head's name);
            ``weight`` its loss weight (default 1); ``outputs`` its number of
            model outputs (default: from ``y`` for heads on ``y``, else 1 —
            give K for a K-class head on another array); ``params`` the
            head task's parameters. Example::

                {"tag": {"task": "binary", "target": "y"},
                 "mass": {"task": "regression", "target": "mass", "weight": 0.1}}

    Scores are the heads' scores concatenated along the last axis (a binary
    head's probability is one column); :meth:`split_scores` and
    :meth:`evaluation_heads` take them apart for evaluation. Validation metrics are
    the total ``loss`` and every head's metrics as ``<head>_<metric>``.
    Per-sample ``weight`` applies to every head, ``target_mask`` to heads on ``y``.
    """

    name = "multitask"
    evaluation = MULTITASK
    monitor = "loss"
    higher_is_better = False

    def __init__(self, heads: dict[str, dict[str, Any]] | None = None) -> None:
        from quanta.tasks import TASKS

        if not heads:
            raise UserError("multitask: give heads, e.g. {tag: {task: binary, target: y}, "
                            "mass: {task: regression, target: mass, weight: 0.1}}")
        self.heads = heads
        self.tasks: dict[str, Task] = {}
        self.targets: dict[str, str] = {}
        self.weights: dict[str, float] = {}
        for head, spec in heads.items():
            if not isinstance(spec, dict):
                raise UserError(f"multitask.heads.{head}: expected a mapping of {', '.join(_HEAD_KEYS)}")
            unknown = sorted(set(spec) - set(_HEAD_KEYS))
            if unknown:
                raise UserError(f"multitask.heads.{head}: unknown key '{unknown[0]}'; allowed: {', '.join(_HEAD_KEYS)}")
            task_name = spec.get("task", "regression")
            if task_name == self.name:
                raise UserError(f"multitask.heads.{head}: a head cannot itself be a multitask")
            self.tasks[head] = TASKS.create(task_name, where=f"multitask.heads.{head}.params",
                                            **spec.get("params", {}))
            self.targets[head] = str(spec.get("target", head))
            self.weights[head] = float(spec.get("weight", 1.0))
            if self.weights[head] < 0:
                raise UserError(f"multitask.heads.{head}.weight: must be >= 0, received {self.weights[head]}")
            outputs = spec.get("outputs")
            if outputs is not None and (isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1):
                raise UserError(f"multitask.heads.{head}.outputs: must be a positive integer, received {outputs!r}")
        #: the data-set arrays this task reads as targets (the trainer moves them to the device)
        self.target_arrays: tuple[str, ...] = tuple(dict.fromkeys(self.targets.values()))
        self.sizes: dict[str, int] | None = None  # outputs per head, set by out_features

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        """Checks ``y`` with the first head that learns it (other arrays are cast in the loss)."""
        for head, target in self.targets.items():
            if target == "y":
                return self.tasks[head].check_targets(y, where)
        return y

    def out_features(self, y: np.ndarray) -> int:
        sizes = {}
        for head, spec in self.heads.items():
            outputs = spec.get("outputs")
            if outputs is None:
                outputs = self.tasks[head].out_features(y) if self.targets[head] == "y" else 1
            sizes[head] = int(outputs)
        self.sizes = sizes
        return sum(sizes.values())

    def _slices(self, total: int) -> dict[str, slice]:
        sizes = self.sizes
        if sizes is None:  # not built from data (a reloaded network): explicit outputs, else 1 ...
            sizes = {h: int(s.get("outputs") or 1) for h, s in self.heads.items()}
            open_heads = [h for h, s in self.heads.items() if s.get("outputs") is None]
            if len(open_heads) == 1:  # ... and the one head without `outputs` takes the rest
                sizes[open_heads[0]] = total - sum(v for h, v in sizes.items() if h != open_heads[0])
        if sum(sizes.values()) != total:
            raise UserError(f"multitask: the model gives {total} outputs, the heads need "
                            f"{sum(sizes.values())} ({sizes})")
        out, start = {}, 0
        for head, size in sizes.items():
            out[head] = slice(start, start + size)
            start += size
        return out

    def _head_output(self, output: torch.Tensor, where: slice, target: torch.Tensor) -> torch.Tensor:
        part = output[..., where]  # [N, ..., k]
        return part.squeeze(-1) if part.shape[-1] == 1 and target.ndim < part.ndim else part

    def _target(self, head: str, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.long() if self.tasks[head].name in _INTEGER_TARGETS else tensor.float()

    # -- training --------------------------------------------------------------
    def losses(self, output: torch.Tensor, targets: dict[str, torch.Tensor], weight: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Each head's loss, by head name."""
        out = {}
        for head, where in self._slices(output.shape[-1]).items():
            target = self._target(head, targets[self.targets[head]])
            head_mask = mask if self.targets[head] == "y" else None
            out[head] = self.tasks[head].loss(self._head_output(output, where, target), target, weight, head_mask)
        return out

    def loss(self, output, target, weight=None, mask=None):
        """``sum_h weight_h * loss_h``; ``target`` is the dict ``{array name: tensor}``."""
        losses = self.losses(output, target, weight, mask)
        return sum(self.weights[head] * value for head, value in losses.items())

    def training_loss(self, model, batch, inputs):
        output = model(*(batch[name] for name in inputs))
        targets = {name: batch[name] for name in self.target_arrays}
        return self.loss(output, targets, batch.get("weight"), batch.get("target_mask"))

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        parts = []
        for head, where in self._slices(output.shape[-1]).items():
            score = self.tasks[head].scores(output[..., where])
            parts.append(score if score.ndim == output.ndim else score.unsqueeze(-1))
        return torch.cat(parts, dim=-1)  # [N, ..., total]

    def metrics(self, output, target, weight=None, mask=None):
        out: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=output.device)
        for head, where in self._slices(output.shape[-1]).items():
            head_target = self._target(head, target[self.targets[head]])
            head_mask = mask if self.targets[head] == "y" else None
            values = self.tasks[head].metrics(self._head_output(output, where, head_target), head_target,
                                              weight, head_mask)
            total = total + self.weights[head] * values["loss"]
            out.update({f"{head}_{k}": v for k, v in values.items()})
        return {"loss": total, **out}

    def split_scores(self, scores: np.ndarray | torch.Tensor) -> dict[str, Any]:
        """The columns of :meth:`scores` belonging to each head (a [N] column for one-output heads)."""
        out = {}
        for head, where in self._slices(scores.shape[-1]).items():
            part = scores[..., where]
            out[head] = part[..., 0] if part.shape[-1] == 1 else part
        return out

    def evaluation_heads(self, arrays: dict[str, np.ndarray],
                         scores: np.ndarray) -> dict[str, tuple[Any, np.ndarray, np.ndarray]]:
        """``{head: (evaluation, targets, scores)}`` for evaluating each head with its own metrics."""
        split = self.split_scores(scores)
        return {head: (self.tasks[head].evaluation, arrays[self.targets[head]], split[head]) for head in self.heads}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "monitor": self.monitor, "heads": self.heads}


__all__ = ["MultiTask"]
