"""Semi-supervised classification: a few labelled samples and many unlabelled ones.

A physicist often has a large sample without labels (recorded data) and a few
labelled events (a hand-scanned subset, a small calibration sample). The task
keeps the labels of a stratified fraction ``labelled`` of the train split,
drawn with ``seed`` (nested: a larger fraction keeps the samples of a smaller
one), and hides the others as ``y = -1``; the valid split keeps the same
fraction, since a real few-label problem has few validation labels too, and
its labelled samples alone are validated on. The test split is scored whole,
against all its true labels, as a binary (or multiclass) classification.

Networks learn by online pseudo-labelling (Lee 2013; the confidence
threshold of FixMatch, Sohn et al. 2020): every step, the cross-entropy on
the batch's labelled rows plus ``unlabelled_weight`` times the cross-entropy
on its unlabelled rows whose predicted class (taken without gradient) is at
least ``threshold`` confident, with that class as the target, summed over the
confident rows and divided by all unlabelled rows of the batch. The weight
rises from 0 over ``ramp_steps`` optimiser steps (the Gaussian ramp
``exp(-5 (1 - t)^2)`` of Laine and Aila 2017), so that early, poor guesses do
not teach the network. With ``noise`` the pseudo-labels come from the clean
inputs and train the network on noised copies (the consistency of FixMatch's
weak and strong views): on two moons with 4 labels per class this is what
makes the unlabelled samples help; on raw detector pulses it hides the detail
that separates the classes. ``unlabelled_weight: 0`` is the labelled-only
baseline: the same batches and steps, the unlabelled rows unused.

The few labelled validation samples choose the epoch (early stopping): watch
their AUC or accuracy (``train: {monitor: auc}``) rather than their loss,
which grows as soon as the network memorises its few labels. The labelled
rows also weigh more in the input standardisation, by their repeats.

With 1 % labels a batch of 256 would hold 2-3 labelled rows; the labelled
rows are therefore repeated in the train part until they fill
``labelled_share`` of it (FixMatch draws 1 labelled per 7 unlabelled
samples: 1/8). Classical methods (boosted trees, ...) learn from the labelled
rows alone, each once (:meth:`SemiSupervised.labelled_rows`, applied by
:class:`quanta.methods.base.Method` to every fit): they never see ``y = -1``.

References:
    D.-H. Lee, "Pseudo-Label: the simple and efficient semi-supervised learning method
    for deep neural networks", ICML 2013 Workshop on Challenges in Representation Learning.
    S. Laine and T. Aila, "Temporal ensembling for semi-supervised learning", ICLR 2017.
    K. Sohn et al., "FixMatch", NeurIPS 2020, arXiv:2001.07685.
"""

from __future__ import annotations

import math
import weakref
import zlib
from dataclasses import replace
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from quanta.errors import UserError
from quanta.registry import checked
from quanta.tasks.base import Task
from quanta.tasks.binary import Binary
from quanta.tasks.evaluation import Evaluation
from quanta.tasks.multiclass import Multiclass

#: the array marking repeated copies of labelled rows in a train part (0: the sample itself)
COPY = "label_copy"
#: the label of a sample whose label is hidden
UNLABELLED = -1


class SemiSupervised(Task):
    """Few labels and many unlabelled samples: pseudo-labels above a confidence threshold

    Args:
        labelled: the fraction of the train and valid splits whose labels are kept,
            in (0, 1]; at least one sample of every class keeps its label.
        threshold: the confidence (the predicted class's probability) above which
            an unlabelled sample's prediction becomes its target, in (0.5, 1).
        unlabelled_weight: the weight of the pseudo-label loss; 0 trains on the
            labelled samples alone (the baseline).
        ramp_steps: optimiser steps over which that weight rises from 0; 0 starts at full weight.
        noise: standard deviation of the Gaussian noise added to the unlabelled inputs the
            pseudo-labels train (in the standardised units the model sees); their labels come
            from the clean inputs, so the network learns to keep its class under the noise
            (the consistency of FixMatch's weak and strong views); 0 adds none.
        labelled_share: the share of the train part the labelled rows are repeated to fill.
        classes: ``binary`` (labels 0 and 1) or ``multiclass`` (labels 0..K-1).
        seed: which samples keep their labels (the experiment's seed by default).
    """

    name = "semi_supervised"

    @checked("semi_supervised")
    def __init__(
        self,
        labelled: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False,
                                         description="a fraction in (0, 1]")] = 0.01,
        threshold: Annotated[float, Field(gt=0.5, lt=1, allow_inf_nan=False,
                                          description="a probability in (0.5, 1)")] = 0.95,
        unlabelled_weight: Annotated[float, Field(ge=0, allow_inf_nan=False,
                                                  description="a number >= 0")] = 1.0,
        ramp_steps: Annotated[int, Field(ge=0, description="an integer >= 0")] = 200,
        noise: Annotated[float, Field(ge=0, allow_inf_nan=False,
                                      description="a standard deviation >= 0")] = 0.0,
        labelled_share: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False,
                                               description="a fraction in (0, 1)")] = 0.125,
        classes: Annotated[Literal["binary", "multiclass"],
                           Field(description="one of binary, multiclass")] = "binary",
        seed: Annotated[int, Field(ge=0, description="an integer >= 0")] = 0,
    ) -> None:
        super().__init__()
        self.labelled = labelled
        self.threshold = threshold
        self.unlabelled_weight = unlabelled_weight
        self.ramp_steps = ramp_steps
        self.noise = noise
        self.labelled_share = labelled_share
        self.classes = classes
        self.seed = seed
        self.base = Binary() if classes == "binary" else Multiclass()
        self.monitor = self.base.monitor
        self.higher_is_better = self.base.higher_is_better
        self._steps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per training state

    @property
    def evaluation(self) -> Evaluation:
        """The evaluation of the classification: the test split's true labels are all known."""
        return self.base.evaluation

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.ndim != 1:
            raise UserError(f"{where}: task 'semi_supervised' needs one class label per sample, "
                            f"received targets of shape {y.shape}")
        return self.base.check_targets(y, where)

    def out_features(self, y: np.ndarray) -> int:
        return self.base.out_features(y[y >= 0] if y.size else y)

    def check_split(self, parts: dict[str, Any]) -> None:
        self.base.check_split(parts)

    def kept(self, y: np.ndarray, where: str) -> np.ndarray:
        """The sorted rows of labels ``y`` whose labels are kept: per class a ``labelled`` fraction
        (at least one), the first of a seeded permutation, so a larger fraction keeps a smaller one's."""
        rng = np.random.default_rng([self.seed, zlib.crc32(where.encode())])
        rows = []
        for label in np.unique(y):
            members = np.flatnonzero(y == label)
            count = max(1, round(self.labelled * len(members)))
            rows.append(members[rng.permutation(len(members))[:count]])
        return np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)

    def training_rows(self, part: Any, where: str) -> Any:
        """Train: every sample, the hidden labels ``-1``, the labelled rows repeated to fill
        ``labelled_share``; valid: its labelled samples alone."""
        if len(part) == 0:
            return part
        if part.streamed:
            raise UserError(f"task 'semi_supervised': the labels kept are drawn from data in memory; "
                            f"{where} is streamed (load the data in memory)")
        if "y" not in part:
            raise UserError(f"task 'semi_supervised': {where} carries no labels y to keep a "
                            "fraction of")
        y = part.y
        kept = self.kept(y, where)
        if "valid" in where:
            return part.subset(kept)
        copies = 0
        if len(kept) < len(y):  # repeats r so that (r + 1) n_l / (n_u + (r + 1) n_l) >= share
            wanted = self.labelled_share * (len(y) - len(kept)) / (1 - self.labelled_share)
            copies = max(0, math.ceil(wanted / len(kept)) - 1)
        hidden = np.full(len(y), UNLABELLED, dtype=y.dtype)
        hidden[kept] = y[kept]
        copy = np.zeros(len(y), np.int16)
        rows = np.concatenate([np.arange(len(y)), np.tile(kept, copies)])
        copy = np.concatenate([copy, np.repeat(np.arange(1, copies + 1, dtype=np.int16), len(kept))])
        return part.with_arrays(y=hidden).subset(rows).with_arrays(**{COPY: copy})

    def labelled_rows(self, part: Any) -> Any:
        """The labelled samples of a part, each once: what a method that cannot use unlabelled
        samples learns from (every classical method)."""
        if part is None or part.streamed or "y" not in part:
            return part
        if COPY not in part and not (part.y < 0).any():
            return part
        keep = part.y >= 0
        if COPY in part:
            keep &= part[COPY] == 0
        rows = part.subset(np.flatnonzero(keep))
        return replace(rows, arrays={k: v for k, v in rows.arrays.items() if k != COPY})

    # -- training --------------------------------------------------------------
    def loss(self, output, target, weight=None, mask=None):
        """The classification loss on the labelled rows (``target >= 0``)."""
        labelled = target >= 0
        mask = labelled if mask is None else mask.bool() & labelled
        return self.base.loss(output, self._known(target), weight, mask)

    def _known(self, target: torch.Tensor) -> torch.Tensor:
        return target.clamp_min(0)

    def ramp(self, step: int) -> float:
        """The pseudo-label weight's factor after ``step`` optimiser steps, in [0, 1]."""
        if self.ramp_steps == 0 or step >= self.ramp_steps:
            return 1.0
        return math.exp(-5.0 * (1.0 - step / self.ramp_steps) ** 2)

    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        """Labelled cross-entropy plus the ramped weight times the confident pseudo-labels' one."""
        target, weight = batch["y"], batch.get("weight")
        steps = self._steps.get(state)
        if steps is None:  # a resumed training ramps on from its optimiser's checkpointed count
            steps = _optimiser_steps(state)
        weight_now = self.unlabelled_weight * self.ramp(steps)
        with state.autocast():
            output = self.forward(state.model, batch, inputs)
            loss = self.loss(output, target, weight)
            if weight_now > 0:
                noisy = output
                if self.noise > 0:  # the global generator: saved in checkpoints, as autoencoding's noise
                    x = batch["x"]
                    noisy = self.forward(state.model, {**batch, "x": x + self.noise * torch.randn_like(x)},
                                         inputs)
                loss = loss + weight_now * self.pseudo_label_loss(output, noisy, target, weight)
        state.step("model", loss)
        self._steps[state] = steps + 1
        return loss.detach()

    def pseudo_label_loss(self, output: torch.Tensor, trained: torch.Tensor, target: torch.Tensor,
                          weight: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy of the unlabelled rows' outputs ``trained`` (of noised inputs, or ``output``
        itself) against the class ``output`` predicts where it is confident, summed over the
        confident rows and divided by all unlabelled rows (0 where the batch has none)."""
        unlabelled = target < 0
        with torch.no_grad():
            probability = self.base.scores(output.detach())
            if self.classes == "binary":
                guess = (probability > 0.5).to(target.dtype)
                confidence = torch.maximum(probability, 1 - probability)
            else:
                confidence, guess = probability.max(dim=-1)
            confident = unlabelled & (confidence >= self.threshold)
            share = confident.sum() / unlabelled.sum().clamp_min(1)
        return share * self.base.loss(trained, guess.to(target.dtype), weight, confident)

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return self.base.scores(output)

    def metrics(self, output, target, weight=None, mask=None):
        """The classification's metrics on the labelled validation samples."""
        return self.base.metrics(output, self._known(target), weight, mask)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "labelled": self.labelled, "threshold": self.threshold,
                "unlabelled_weight": self.unlabelled_weight}


def _optimiser_steps(state) -> int:
    """The steps an optimiser that counts them (Adam, AdamW) has taken, read once per training;
    0 for one that keeps no count (a resumed SGD training then ramps up again)."""
    optimizer = state.optimizers["model"]
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            step = optimizer.state.get(parameter, {}).get("step")
            if step is not None:
                return int(step)
    return 0
