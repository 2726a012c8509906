"""Generation: learn the distribution of the inputs ``x`` (optionally conditioned) and sample from it.

One task for every generative model, so that a VAE, a GAN, a WGAN-GP and a
classical baseline are trained on one split and compared in one report. The
task owns the training, as every quanta task does, but how a distribution is
learned differs from model to model: it delegates to an :class:`Objective`.

- ``vae`` (:class:`quanta.tasks.variational.Variational`): the evidence lower
  bound, a Gaussian reconstruction term plus ``beta`` times the KL divergence
  of the encoder's code from the prior N(0, I);
- ``gan`` and ``wgan_gp`` (:class:`quanta.tasks.adversarial.Adversarial`): a
  generator against a discriminator (the non-saturating loss of Goodfellow et
  al. 2014) or against a critic of the Wasserstein distance with a gradient
  penalty (Gulrajani et al. 2017, ``gradient_penalty``, ``critic_steps``).

``objective: auto`` takes the model's own (its ``objective`` attribute: the
``vae`` model says "vae", the ``gan`` model "wgan_gp"); a method entry's
``task_params: {objective: gan}`` trains a ``gan`` model with the original
loss beside a WGAN-GP in the same experiment.

Every objective gives one score per sample (saved as the predictions: the
VAE's negative ELBO, a critic's value; larger is less typical of the training
data, an anomaly score) and validation metrics; labels, when the data carry
them, only evaluate (the score's ``anomaly_auc``). After training, the
experiment draws as many samples as the test split holds and compares them
with it (``generated.json``).
"""

from __future__ import annotations

import importlib
import weakref
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from quanta.errors import UserError
from quanta.tasks.base import Task
from quanta.tasks.evaluation import GENERATION

ObjectiveName = Literal["auto", "vae", "gan", "wgan_gp"]

#: objective name -> ("module:class", keyword arguments); imported when first used
OBJECTIVES: dict[str, tuple[str, dict[str, Any]]] = {
    "vae": ("quanta.tasks.variational:Variational", {}),
    "gan": ("quanta.tasks.adversarial:Adversarial", {"wasserstein": False}),
    "wgan_gp": ("quanta.tasks.adversarial:Adversarial", {"wasserstein": True}),
}


class Objective:
    """One way of learning a distribution; the generation task delegates its training to it.

    A subclass reads its hyperparameters from ``self.task`` (``beta``,
    ``gradient_penalty``, ``critic_steps``, ...) and implements the methods
    below. ``forward`` gives one row per sample: a score ``[N]``, or ``[N, K]``
    whose first column is the score and whose other columns are what
    :meth:`metrics` needs besides it (the default :meth:`scores` takes column 0).
    """

    #: the validation metric shown in progress and used for early stopping, and its direction
    monitor: str = "loss"
    higher_is_better: bool = False

    def __init__(self, task: Generation) -> None:
        self.task = task

    def optimised_parts(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        """``{name: module}``, one optimiser each (the task's :meth:`Task.optimised_parts`)."""
        return {"model": model}

    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        """One optimisation step (``state.step(name, loss)`` per part); returns the detached loss to log."""
        raise NotImplementedError

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """The per-sample score ``[N]`` (or ``[N, K]``, the score first) in eval mode, without gradients."""
        raise NotImplementedError

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """The per-sample scores saved as predictions: ``output`` itself, or its first column."""
        return output if output.ndim == 1 else output[:, 0]

    def metrics(self, output: torch.Tensor, weight: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Validation metrics as 0-d tensors on the device, from :meth:`forward`'s rows of a split."""
        raise NotImplementedError


class Generation(Task):
    """Generative modelling: learn the distribution of the inputs x, optionally conditioned, and sample from it

    Args:
        objective: how the distribution is learned: ``vae``, ``gan``,
            ``wgan_gp``, or ``auto`` (the model's own ``objective``).
        beta: VAE: the weight of KL(q(z|x) || N(0, I)) against the
            reconstruction term (1: the ELBO; above 1 a beta-VAE's smoother,
            more disentangled code; below 1 sharper reconstructions).
        gradient_penalty: WGAN-GP: lambda, the weight of (||grad d(x_hat)|| - 1)^2
            (the paper's 10).
        critic_steps: critic updates per generator update of the adversarial
            objectives; None: WGAN-GP's 5, and 1 for the original GAN, whose
            experiments alternated one and one.
        anomaly_score: VAE: the score saved per sample, the negative ELBO
            (``loss``: reconstruction + beta KL) or the ``reconstruction``
            error alone (an autoencoder's anomaly score).

    The data need no labels; labels in ``y`` are kept to evaluate the scores
    (``anomaly_auc`` of binary labels). Generative models build their outputs
    from the input shapes, so :meth:`out_features` is not theirs to read.
    """

    name = "generation"
    evaluation = GENERATION

    def __init__(
        self,
        objective: Annotated[ObjectiveName, Field(description="one of auto, vae, gan, wgan_gp")] = "auto",
        beta: Annotated[float, Field(gt=0, allow_inf_nan=False, description="a number > 0")] = 1.0,
        gradient_penalty: Annotated[float, Field(ge=0, allow_inf_nan=False, description="a number >= 0")] = 10.0,
        critic_steps: Annotated[int | None, Field(ge=1, description="an integer >= 1")] = None,
        anomaly_score: Annotated[Literal["loss", "reconstruction"],
                                 Field(description="one of loss, reconstruction")] = "loss",
    ) -> None:
        self.objective = objective
        self.beta = beta
        self.gradient_penalty = gradient_penalty
        self.critic_steps = critic_steps
        self.anomaly_score = anomaly_score
        # one objective per model (one task serves every method of an experiment that does not
        # override task_params); the last model seen answers scores and metrics, which always
        # read the rows its forward just gave
        self._objectives: weakref.WeakKeyDictionary[torch.nn.Module, Objective] = weakref.WeakKeyDictionary()
        self._current: Objective | None = None

    # -- the objective ---------------------------------------------------------
    def objective_for(self, model: torch.nn.Module) -> Objective:
        """The objective that trains ``model`` (a ``torch.compile`` wrapper counts as its module)."""
        module = getattr(model, "_orig_mod", model)
        objective = self._objectives.get(module)
        if objective is None:
            objective = self._objectives[module] = self._build_objective(module)
        self._current = objective
        return objective

    def _build_objective(self, module: torch.nn.Module) -> Objective:
        kind = type(module).__name__
        if not callable(getattr(module, "sample", None)):
            raise UserError(f"task 'generation': model {kind} does not generate samples; the task learns "
                            "generative models (vae, gan), which draw new samples with sample(n, ...)")
        name = self.objective
        if name == "auto":
            name = getattr(module, "objective", None)
            if name not in OBJECTIVES:
                raise UserError(f"task 'generation': model {kind} declares no objective ({name!r}); give "
                                f"task_params: {{objective: ...}}, one of {', '.join(OBJECTIVES)}")
        target, arguments = OBJECTIVES[name]
        module_name, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)(self, **arguments)

    @property
    def _chosen(self) -> type[Objective] | Objective | None:
        """The objective in use, or before any model was seen the class an explicit choice names."""
        if self._current is not None:
            return self._current
        if self.objective == "auto":
            return None
        module_name, _, attribute = OBJECTIVES[self.objective][0].partition(":")
        return getattr(importlib.import_module(module_name), attribute)

    @property
    def monitor(self) -> str:  # type: ignore[override]
        """The objective's validation metric ("loss" while ``auto`` has not seen its model)."""
        chosen = self._chosen
        return "loss" if chosen is None else chosen.monitor

    @property
    def higher_is_better(self) -> bool:  # type: ignore[override]
        chosen = self._chosen
        return False if chosen is None else chosen.higher_is_better

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        """Labels are optional and only evaluate the scores: any numeric ``y`` is kept as it is."""
        if y.dtype.kind not in "biuf":
            raise UserError(f"{where}: labels must be numbers (used only to evaluate the generative "
                            f"model's scores), received dtype {y.dtype}")
        return y

    def out_features(self, y: np.ndarray | None) -> int:
        """1, read by no generative model: the vae and gan build their outputs from the input shapes.

        (There are no targets to size an output from; 1 lets any other model
        build, so that the task can then refuse it by name.)
        """
        return 1

    # -- training, scores and metrics: the objective's --------------------------
    def optimised_parts(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        return self.objective_for(model).optimised_parts(model)

    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        return self.objective_for(state.module).training_step(state, batch, inputs)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        return self.objective_for(model).forward(model, batch, inputs)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return self._seen().scores(output)

    def metrics(self, output: torch.Tensor, target: Any, weight: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._seen().metrics(output, weight)

    def _seen(self) -> Objective:
        if self._current is None:
            raise RuntimeError("Generation: scores and metrics read the rows of forward(model, ...); "
                               "call it first")
        return self._current

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "monitor": self.monitor, "objective": self.objective}


__all__ = ["OBJECTIVES", "Generation", "Objective"]
