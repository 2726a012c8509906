"""Autoencoders: learn to rebuild the inputs through a code; the per-sample error is an anomaly score.

No labels are needed: the target of every sample is the sample itself. The
model (``autoencoder``, ``conv_autoencoder``, or any model whose output has
the input's shape) rebuilds ``x`` in the units it sees (quanta's
standardised inputs), and the score saved for every sample is its
reconstruction error, the mean squared difference over the input's elements
(for padded sets only the real elements count). Samples unlike the training
data are rebuilt worse: an anomaly search trains on the background alone
(``train_on``: the samples of one class, e.g. QCD jets, ``y = 0``) and scores
every sample of every split; labels, when the data carry them, are used only
by ``train_on`` and to evaluate (AUC and background rejection of the score,
:mod:`quanta.evaluate.anomaly`).

Variants, all on the same models:

- *denoising* (``noise``, Vincent et al. 2008): Gaussian noise of this
  standard deviation is added to the input the model sees in training,
  and the error is measured against the clean input; the noise comes from
  torch's global generator, saved in every checkpoint, so a resumed training
  draws the same noise. (For pairs of physically noisy inputs and clean
  targets, such as ``saxs`` images, train ``conv_autoencoder`` under task
  ``reconstruction`` instead: it then learns the clean image itself.)
- *sparse* (``sparsity``): a penalty on the code, added to the training loss
  through the model's ``encode`` and ``decode``: ``l1`` adds
  ``sparsity_weight * mean |z|``; ``kl`` (Ng's sparse autoencoder) adds
  ``sparsity_weight * sum_j KL(rho || rho_j)``, with ``rho_j`` the mean
  activation of code unit j over the batch and ``rho = sparsity_target``,
  which needs a code in (0, 1) (``code_activation: sigmoid``).
- *latent-space score* (``score: mahalanobis``): the score is the squared
  Mahalanobis distance of a sample's code to the mean and covariance of the
  training codes, which the model keeps as running statistics updated in
  every training step (:class:`quanta.models.autoencoder.CodeStatistics`:
  saved with the weights, so prediction reads the statistics of the last
  epochs' encoder; no step after training is needed). Where the
  reconstruction error asks "is this sample rebuilt well?", the distance asks
  "is its code where training codes lie?"

The training loss is the weighted mean reconstruction error (with the noise
and the penalty); the validation loss (the monitored metric) is the mean
reconstruction error of the clean inputs without the penalty.

References:
    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, ICML 2008.
    A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford (2011).
    M. Farina, Y. Nakai and D. Shih, "Searching for new physics with deep
    autoencoders", Phys. Rev. D 101, 075021 (2020), arXiv:1808.08992.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from quanta.errors import UserError
from quanta.evaluate.anomaly import mahalanobis_metrics
from quanta.registry import checked
from quanta.tasks.base import Task, reduce, require_integer_labels
from quanta.tasks.evaluation import AUTOENCODING, Evaluation

Sparsity = Literal["none", "l1", "kl"]
Score = Literal["reconstruction", "mahalanobis"]
_SMALLEST = 1e-6  # mean code activations are kept in [eps, 1 - eps] inside the KL penalty's logarithms


class Autoencoding(Task):
    """Autoencoders: rebuild the inputs through a code; the per-sample reconstruction error is the score (anomaly detection)

    Args:
        noise: standard deviation of the Gaussian noise added to the inputs in
            training, in the standardised units the model sees (a denoising
            autoencoder); 0 adds none.
        sparsity: penalty on the code: ``none``, ``l1`` (mean absolute code)
            or ``kl`` (KL divergence of each unit's mean activation from
            ``sparsity_target``; a sigmoid code).
        sparsity_weight: weight of the penalty in the training loss.
        sparsity_target: the mean activation ``rho`` the KL penalty pulls every
            code unit towards, in (0, 1).
        train_on: learn only from the train and valid samples of this class
            (label ``y``), e.g. 0 for QCD jets in a search for anything else;
            None learns from all. Every split is still scored whole.
        score: what is saved for every sample: ``reconstruction`` (its
            reconstruction error) or ``mahalanobis`` (the squared Mahalanobis
            distance of its code to the training codes).
    """

    name = "autoencoding"
    monitor = "reconstruction_mse"  # with score="mahalanobis": "mahalanobis_squared" (set per instance)
    higher_is_better = False

    @checked("autoencoding")
    def __init__(
        self,
        noise: Annotated[float, Field(ge=0, allow_inf_nan=False,
                                      description="a standard deviation >= 0")] = 0.0,
        sparsity: Annotated[Sparsity, Field(description="one of none, l1, kl")] = "none",
        sparsity_weight: Annotated[float, Field(ge=0, allow_inf_nan=False,
                                                description="a number >= 0")] = 0.01,
        sparsity_target: Annotated[float, Field(gt=0, lt=1, description="a number in (0, 1)")] = 0.05,
        train_on: Annotated[int | None, Field(ge=0, description="a class label >= 0, or null for all")] = None,
        score: Annotated[Score, Field(description="one of reconstruction, mahalanobis")] = "reconstruction",
    ) -> None:
        super().__init__()
        self.noise = noise
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.train_on = train_on
        self.score = score
        # the mean score, a metric of the saved scores too (the variable ranking shuffles against it)
        self.monitor = "reconstruction_mse" if score == "reconstruction" else "mahalanobis_squared"

    @property
    def evaluation(self) -> Evaluation:
        """:data:`AUTOENCODING`; with ``score="mahalanobis"`` its mean score is ``mahalanobis_squared``."""
        return AUTOENCODING if self.score == "reconstruction" else replace(AUTOENCODING,
                                                                           metrics=mahalanobis_metrics)

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.ndim != 1:
            raise UserError(f"{where}: task 'autoencoding' reads y only as one class label per sample "
                            f"(for train_on and to evaluate), received shape {y.shape}; for target images "
                            "use task 'reconstruction'")
        return require_integer_labels(y, where, "class labels, used by train_on and to evaluate")

    def out_features(self, y: np.ndarray | None) -> int:
        """0: the model rebuilds its inputs, so their shape, not ``y``, sizes its output."""
        return 0

    def training_rows(self, part: Any, where: str) -> Any:
        """With ``train_on``, the samples of that class (an in-memory part); else all of them."""
        if self.train_on is None or len(part) == 0:
            return part
        if part.streamed:
            raise UserError(f"task 'autoencoding': train_on selects samples of data in memory; {where} is "
                            "streamed (load the data in memory or drop train_on)")
        if "y" not in part:
            raise UserError(f"task 'autoencoding': train_on={self.train_on} selects the training samples "
                            "by their label y, and the data carry no labels")
        rows = np.flatnonzero(part.y == self.train_on)
        if rows.size == 0:
            present = ", ".join(str(v) for v in np.unique(part.y)[:10])
            raise UserError(f"task 'autoencoding': train_on={self.train_on}: {where} has no sample of class "
                            f"{self.train_on} ({len(part)} samples of classes {present})")
        return part.subset(rows)

    # -- training --------------------------------------------------------------
    def loss(self, output: torch.Tensor, target: torch.Tensor | None = None,
             weight: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The weighted mean reconstruction error of :meth:`forward`'s output (``target`` is not read)."""
        return reduce(_errors(output), weight)

    def _reads_code(self) -> bool:
        return self.sparsity != "none" or self.score == "mahalanobis"

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                      inputs: tuple[str, ...]) -> torch.Tensor:
        """Mean reconstruction error of the (noised) inputs against the clean ones, plus the code penalty."""
        x, mask = batch["x"], batch.get("mask")
        seen = x + self.noise * torch.randn_like(x) if self.noise > 0 else x
        if self.noise > 0 and mask is not None and x.ndim == 3:
            seen = seen * mask.unsqueeze(-1).to(seen.dtype)  # padded slots stay zero
        if not self._reads_code():
            rebuilt = model(*(seen if name == "x" else batch[name] for name in inputs))
            return reduce(reconstruction_error(rebuilt, x, mask), batch.get("weight"))
        module = _autoencoder(model, self)
        code = module.encode(seen)
        loss = reduce(reconstruction_error(module.decode(code), x, mask), batch.get("weight"))
        if self.score == "mahalanobis":
            statistics = _statistics(module)
            if self.noise > 0:
                with torch.no_grad():
                    statistics.update(module.encode(x))  # the codes of the clean inputs
            else:
                statistics.update(code)
        if self.sparsity != "none":
            loss = loss + self.sparsity_weight * self._penalty(module, code)
        return loss

    def _penalty(self, module: torch.nn.Module, code: torch.Tensor) -> torch.Tensor:
        """The sparsity penalty of one batch of codes (before its weight)."""
        code = code.float().reshape(code.shape[0], -1)  # [N, k]
        if self.sparsity == "l1":
            return code.abs().mean()
        if getattr(module, "code_activation", None) != "sigmoid":
            raise UserError("task 'autoencoding': sparsity 'kl' needs code activations in (0, 1); give the "
                            "model code_activation: sigmoid (and a code size), or use sparsity: l1")
        rho = self.sparsity_target
        rate = code.mean(dim=0).clamp(_SMALLEST, 1 - _SMALLEST)  # [k], each unit's mean activation
        return (rho * torch.log(rho / rate) + (1 - rho) * torch.log((1 - rho) / (1 - rate))).sum()

    # -- prediction and validation ---------------------------------------------
    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """The reconstruction error ``[N]``; with ``score="mahalanobis"``, ``[N, 2]``: error and distance."""
        x, mask = batch["x"], batch.get("mask")
        if self.score == "reconstruction":
            return reconstruction_error(model(*(batch[name] for name in inputs)), x, mask)
        module = _autoencoder(model, self)
        code = module.encode(x)
        error = reconstruction_error(module.decode(code), x, mask)
        return torch.stack([error, _statistics(module).distance(code)], dim=1)  # [N, 2]

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Each sample's anomaly score ``[N]``: its reconstruction error, or its squared Mahalanobis distance."""
        if output.ndim == 1 and self.score == "reconstruction":
            return output.float()
        if output.ndim == 2 and output.shape[1] == 2 and self.score == "mahalanobis":
            return output[:, 1].float()
        raise UserError(f"task 'autoencoding': scores are read from the task's forward (the per-sample "
                        f"{'reconstruction error' if self.score == 'reconstruction' else 'error and distance'}), "
                        f"not from the model's own outputs {tuple(output.shape)}")

    def metrics(self, output, target=None, weight=None, mask=None):
        """``loss`` and ``reconstruction_mse``: the mean reconstruction error; with
        ``score="mahalanobis"``, ``mahalanobis_squared``: the mean squared distance."""
        error = reduce(_errors(output), weight).detach()
        found = {"loss": error, "reconstruction_mse": error}
        if output.ndim == 2:
            found["mahalanobis_squared"] = reduce(output[:, 1].float(), weight).detach()
        return found

    def describe(self) -> dict:
        return {**super().describe(), "noise": self.noise, "sparsity": self.sparsity,
                "train_on": self.train_on, "score": self.score}


def reconstruction_error(rebuilt: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample mean squared error ``[N]`` of ``rebuilt`` against ``x`` over the input's elements.

    For padded sets (``x [N, P, F]`` with ``mask [N, P]``) only the real
    elements count: the squared error is averaged over their features and
    over them.
    """
    if rebuilt.numel() != x.numel():
        raise UserError(f"task 'autoencoding': the model's output {tuple(rebuilt.shape)} is not the inputs' shape "
                        f"{tuple(x.shape)}; an autoencoder must rebuild its inputs x")
    squared = (rebuilt.float().reshape(x.shape) - x.float()).pow(2)
    if mask is None or x.ndim != 3 or tuple(mask.shape) != tuple(x.shape[:2]):
        return squared.reshape(x.shape[0], -1).mean(dim=1)  # [N]
    real = mask.to(squared.dtype)  # [N, P]
    return (squared.mean(dim=-1) * real).sum(dim=1) / real.sum(dim=1).clamp_min(1.0)  # [N]


def _errors(output: torch.Tensor) -> torch.Tensor:
    """The reconstruction errors ``[N]`` in :meth:`Autoencoding.forward`'s output."""
    return output.float() if output.ndim == 1 else output[:, 0].float()


def _autoencoder(model: torch.nn.Module, task: Autoencoding) -> torch.nn.Module:
    """The model itself (not a compiled wrapper), which must have ``encode`` and ``decode``."""
    module = getattr(model, "_orig_mod", model)
    if not (callable(getattr(module, "encode", None)) and callable(getattr(module, "decode", None))):
        reason = f"sparsity '{task.sparsity}'" if task.sparsity != "none" else "score 'mahalanobis'"
        raise UserError(f"task 'autoencoding': {reason} reads the model's code, which needs encode(x) and "
                        f"decode(code) (models autoencoder, conv_autoencoder); {type(module).__name__} has none")
    return module


def _statistics(module: torch.nn.Module) -> Any:
    """The model's running code statistics, or a one-line error."""
    statistics = getattr(module, "code_statistics", None)
    if statistics is None:
        raise UserError(f"task 'autoencoding': score 'mahalanobis' needs a model that keeps code statistics and a "
                        f"code small enough to keep them for; {type(module).__name__} has none here (give "
                        "conv_autoencoder a dense code size: code)")
    return statistics


__all__ = ["Autoencoding", "reconstruction_error"]
