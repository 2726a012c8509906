"""The task contract: what a trainer and an experiment ask of a task.

A task turns model outputs into a loss (training), scores (predictions saved
and evaluated) and validation metrics computed on the device. Subclasses
override :meth:`check_targets`, :meth:`out_features`, :meth:`loss`,
:meth:`scores` and :meth:`metrics`.

A task owns its training step (:meth:`training_step`): the default one
computes :meth:`training_loss` and steps the one optimiser of the training
state; a task of several networks (a GAN, an autoencoder with a critic) names
the parts of the model each optimiser trains (:meth:`optimised_parts`) and
overrides :meth:`training_step` to step them in turn. The trainer schedules,
clips (inside ``state.step``), calls hooks and checkpoints every part.

A task also owns its evaluation (:attr:`evaluation`, NumPy only: metrics of
saved predictions, report figures, prediction columns, whether it needs
targets) and the direction of its monitored metric (:meth:`goal`).

Targets are per sample (``y[N]``) or per element (``y[N, T]`` for per-step
tagging, ``y[N, E]`` for edges of a graph, ``y[N, C, H, W]`` for images). A
data set may carry ``target_mask`` (bool, the shape of ``y`` without a class
axis): padded elements then take no part in loss and metrics. A per-sample
``weight[N]`` weighs every element of its sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.evaluation import Evaluation, evaluation_of


class Task:
    """Base class of tasks; subclasses set ``name`` and ``monitor``."""

    name = "task"
    #: validation metric shown in progress and history, and whether higher is better
    monitor: str = "loss"
    higher_is_better: bool = False
    #: data-set arrays besides ``y`` the loss reads (moved to the device with the batch)
    target_arrays: tuple[str, ...] = ()
    #: whether a network learns ``y`` shifted and scaled to unit variance (real-valued targets)
    scales_targets: bool = False

    def __init__(self) -> None:
        """Built-in tasks take no parameters; a subclass may add keyword ones with defaults."""

    @property
    def evaluation(self) -> Evaluation:
        """Metrics, figures and prediction columns of this task (a subclass may set its own)."""
        return evaluation_of(self.name)

    @property
    def needs_targets(self) -> bool:
        """Whether the data must carry targets ``y`` (False for unsupervised tasks)."""
        return self.evaluation.needs_targets

    def goal(self, metric: str) -> str:
        """"max" or "min": how validation metric ``metric`` improves (early stopping, tuning)."""
        from quanta.evaluate import metric_goal

        if metric == self.monitor:
            return "max" if self.higher_is_better else "min"
        return metric_goal(metric) or "min"

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        """Validate targets and return them in the dtype the loss wants."""
        raise NotImplementedError

    def out_features(self, y: np.ndarray) -> int:
        """Number of model outputs (per element) this task needs for targets ``y``."""
        raise NotImplementedError

    def check_split(self, parts: dict[str, Any]) -> None:
        """Refuse a split this task cannot learn from (a one-line :class:`UserError`).

        ``parts`` are the train, valid and test parts of one experiment; the
        default accepts any split. Classifications need every class in train.
        """

    # -- training --------------------------------------------------------------
    def loss(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss over the (unmasked) elements of a batch, weighted per sample."""
        raise NotImplementedError

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """What :meth:`scores` and :meth:`metrics` read for a batch: by default ``model(*inputs)``.

        An unsupervised task overrides it to compare the model's output with
        its own inputs (an autoencoder's per-sample reconstruction error) or to
        run a part of the model (a GAN's critic on real and generated samples).
        The trainer calls it for prediction and validation (in eval mode, no
        gradients); the default :meth:`training_loss` calls it too.
        """
        return model(*(batch[name] for name in inputs))

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                      inputs: tuple[str, ...]) -> torch.Tensor:
        """The loss of one training batch (the default step backpropagates it)."""
        output = self.forward(model, batch, inputs)
        return self.loss(output, batch.get("y"), batch.get("weight"), batch.get("target_mask"))

    def training_rows(self, part: Any, where: str) -> Any:
        """The rows of a train or valid ``part`` that methods learn from (all of them by default).

        An anomaly search trains on background only (``autoencoding`` with
        ``train_on``); every split is still scored and evaluated whole.
        ``where`` names the part in a one-line error.
        """
        return part

    def check_kind(self, kind: str, where: str) -> None:
        """Refuse a kind of ``methods:`` entry (``model``, ``method``, ``agent``) this task cannot
        train, before any method trains (a one-line :class:`UserError` naming ``where``); the
        default takes every kind (``label_proportions`` takes networks only)."""

    def optimised_parts(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        """``{name: module}``: one optimiser (and schedule) per part; the default trains the whole model."""
        return {"model": model}

    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        """One optimisation step on ``batch``; returns the (detached) loss to log.

        ``state`` is the :class:`quanta.train.state.TrainingState`: ``state.model``
        (compiled, if asked), ``state.step(name, loss)`` backpropagates ``loss`` and
        steps optimiser ``name`` (zero_grad, backward, weight penalty, clipping),
        ``state.autocast()`` the mixed-precision context.
        """
        with state.autocast():
            loss = self.training_loss(state.model, batch, inputs)
        state.step("model", loss)
        return loss.detach()

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Model outputs -> the scores saved as predictions (probabilities, values)."""
        raise NotImplementedError

    def uncertainty(self, output: torch.Tensor) -> torch.Tensor | None:
        """The standard deviation of each score the model itself predicts (a Gaussian head's sigma),
        shaped like :meth:`scores`; None for a task whose outputs carry none."""
        return None

    def metrics(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Validation metrics as 0-d tensors on the device (read once per epoch).

        ``target`` is None for an unsupervised task on data without labels.
        """
        return {"loss": self.loss(output, target, weight, mask).detach()}

    def evaluation_heads(self, arrays: dict[str, np.ndarray],
                         scores: np.ndarray) -> dict[str, tuple[Evaluation, np.ndarray | None, np.ndarray]]:
        """``{head: (evaluation, targets, scores)}`` evaluated separately; ``""`` for a single head.

        Targets are None when an unsupervised task's data carry none.
        """
        return {"": (self.evaluation, arrays.get("y"), scores)}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "monitor": self.monitor}


def reduce(values: torch.Tensor, weight: torch.Tensor | None = None,
           mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of per-element values ``[N, ...]`` over unmasked elements, weighted per sample."""
    if weight is None and mask is None:
        return values.mean()
    w = torch.ones_like(values)
    if weight is not None:
        w = w * weight.to(values.dtype).reshape(-1, *([1] * (values.ndim - 1)))
    if mask is not None:
        w = w * mask.to(values.dtype).reshape(values.shape)
    return (values * w).sum() / w.sum().clamp_min(torch.finfo(values.dtype).tiny)


def selected(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
             mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Flatten per-element outputs and targets to the unmasked elements (for rank metrics).

    Shapes: output [N, ...] (same leading shape as target), target [N, ...] -> [M], [M], [M].
    """
    elements = target.shape
    output = output.reshape(*elements, -1).squeeze(-1) if output.numel() == target.numel() else output
    if weight is not None and target.ndim > 1:
        weight = weight.reshape(-1, *([1] * (target.ndim - 1))).expand(elements)
    if mask is None:
        return output.reshape(-1), target.reshape(-1), None if weight is None else weight.reshape(-1)
    keep = mask.reshape(elements).bool()
    return output[keep], target[keep], None if weight is None else weight[keep]


def require_classes_in_train(parts: dict[str, Any], count: int) -> None:
    """Every class 0..count-1 must have a sample in the (in-memory) train part: a method cannot learn
    a class it never sees, and scikit-learn's learners would give too few score columns."""
    train = parts["train"]
    if train.streamed or "y" not in train:
        return  # a streamed part's labels are checked chunk by chunk as they are read
    labels = train.y
    if "target_mask" in train:
        labels = labels[train.arrays["target_mask"].astype(bool)]
    missing = sorted(set(range(count)) - set(np.unique(labels).tolist()))
    if missing:
        names = train.classes or [str(label) for label in range(count)]
        shown = ", ".join(f"'{names[m]}'" if names[m] != str(m) else str(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        total = sum(len(part) for part in parts.values())
        raise UserError(
            f"data.split: {'class' if len(missing) == 1 else 'classes'} {shown}{more} of {count} "
            f"{'has' if len(missing) == 1 else 'have'} no sample in the train split ({len(train)} of "
            f"{total} samples); every class must be trained on: give more data or a larger train fraction")


def require_integer_labels(y: np.ndarray, where: str, allowed: str) -> np.ndarray:
    """Integer class labels from ``y`` or a one-line error naming what is allowed."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise UserError(f"{where}: labels must be whole numbers ({allowed}), received non-integer values")
    elif y.dtype.kind not in "biu":
        raise UserError(f"{where}: labels must be integers ({allowed}), received dtype {y.dtype}")
    return y.astype(np.int64)
