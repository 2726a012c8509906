"""Weak supervision: classifiers learned from mixed samples, never from per-event labels.

In data no event says whether it is signal. What a physicist has are samples
of different composition: a signal region and a sideband, quark- and
gluon-enriched selections, runs of different purity. Two ways to learn a
signal-vs-background classifier from them:

``cwola`` - Classification Without Labels (Metodiev, Nachman, Thaler 2017).
    A classifier is trained to tell mixture 1 from mixture 0, samples of
    unknown signal fractions ``f1 > f0``. Since ``p(x|M1) / p(x|M0)`` is a
    monotonic function of ``p(x|S) / p(x|B)`` whenever the two mixtures share
    the signal and background distributions, the optimal mixture classifier
    is the optimal signal-vs-background classifier. Any binary learner does
    it: :meth:`CWoLa.training_rows` hands methods the train and valid parts with
    ``y`` replaced by the mixture index, so networks and classical methods
    (boosted trees) do CWoLa unchanged. The validation metric (early stopping,
    tuning) is therefore the mixture AUC, as it must be on real data; it
    equals ``0.5 + (f1 - f0)(AUC - 0.5)`` of the true AUC, so it ranks
    classifiers alike. Every split is scored against the true labels ``y``
    (which a simulation has; real data would need them only to evaluate).
    The scores are the probability of mixture 1, a monotonic function of the
    signal probability: the AUC and the rejections at fixed signal efficiency
    are the signal classifier's, the accuracy at 0.5 and the calibration (ece)
    are not signal-probability ones.

``label_proportions`` - Learning from Label Proportions (Quadrianto et al.
    2009; Dery, Nachman, Rubbo, Schwartzman 2017 for quark/gluon jets). Each
    bag (mixture) has a KNOWN signal fraction; the loss compares, per bag of the
    batch, the mean predicted signal probability with that fraction:
    ``KL(f_b || mean_{i in b} p_i)`` (the binary cross-entropy less the
    entropy of ``f_b``: 0 when they agree), averaged over the bags present.
    The means are taken within a batch: a batch of 256 holds ~128 events per
    bag of two, so the noise of a bag's mean is that of 128 events (on 20k top
    and QCD jets in bags of 20 % and 80 %, batches of 256 and 1024 gave the same
    test AUC, 0.967 and 0.965). With only two bags many scores match both
    means, and LLP lands below CWoLa there (0.985): it pays off with more bags
    or where the fractions, not the samples, are what is known. Only a
    network can learn from a proportion: a classical method learns from
    per-event targets and is refused before any work (:meth:`check_kind`).

References:
    E. M. Metodiev, B. Nachman, J. Thaler, "Classification without labels: learning
    from mixed samples in high energy physics", JHEP 10 (2017) 174, arXiv:1708.02949.
    N. Quadrianto, A. J. Smola, T. S. Caetano, Q. V. Le, "Estimating labels from
    label proportions", JMLR 10 (2009) 2349.
    L. M. Dery, B. Nachman, F. Rubbo, A. Schwartzman, "Weakly supervised
    classification in high energy physics", JHEP 05 (2017) 145, arXiv:1702.00414.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field

from quanta.errors import UserError
from quanta.registry import checked
from quanta.tasks.binary import Binary, roc_auc

#: the array of each training sample's bag fraction that :class:`LabelProportions` adds
BAG_FRACTION = "bag_fraction"
#: probabilities are kept this far from 0 and 1 inside the logarithms of the proportion loss
_EPS = 1e-6


def _array(part: Any, name: str, task: str, where: str, hint: str) -> np.ndarray:
    """The per-sample array ``name`` of an in-memory ``part``, or a one-line error."""
    if part.streamed:
        raise UserError(f"task '{task}': {where} is streamed; its mixtures are read from data in "
                        "memory (set data.streaming: never)")
    if name not in part:
        raise UserError(f"task '{task}': {where} carries no array '{name}' naming each sample's "
                        f"mixture; {hint}")
    values = np.asarray(part.arrays[name])
    if values.shape != (len(part),):
        raise UserError(f"task '{task}': array '{name}' needs one value per sample, received shape "
                        f"{values.shape} ({where})")
    return values


def _integers(values: np.ndarray, name: str, task: str, where: str) -> np.ndarray:
    whole = values.dtype.kind in "biu" or (values.dtype.kind == "f" and bool(np.all(np.isfinite(values)))
                                            and bool(np.all(values == np.round(values))))
    if not whole or (values.size and values.min() < 0):
        shown = sorted(set(np.unique(values).tolist()))[:6] if values.dtype.kind in "biuf" else values.dtype
        raise UserError(f"task '{task}': array '{name}' must hold mixture indices 0, 1, ...; received "
                        f"{shown} ({where})")
    return values.astype(np.int64)


MIXTURE_HINT = ("give the data one (the jets source's mixtures: [0.2, 0.8], or the files source's "
                "arrays: / file_arrays:), or name it in task_params.mixture")


class CWoLa(Binary):
    """Classification without labels: separate two mixed samples; a signal-vs-background classifier on true labels

    Args:
        mixture: the data-set array giving each sample's mixture, 0 or 1 (mixture
            1 the one richer in signal, so that a high score means signal-like).
    """

    name = "cwola"

    @checked("cwola")
    def __init__(self, mixture: Annotated[str, Field(min_length=1, description="the name of a data-set array")]
                 = "mixture") -> None:
        super().__init__()
        self.mixture = mixture

    def mixtures(self, part: Any, where: str) -> np.ndarray:
        """The mixture index (0 or 1) of every sample of ``part``; a one-line error otherwise."""
        values = _integers(_array(part, self.mixture, self.name, where, MIXTURE_HINT), self.mixture,
                           self.name, where)
        present = set(np.unique(values).tolist())
        if not present <= {0, 1}:
            raise UserError(f"task 'cwola': array '{self.mixture}' must be 0 or 1 (two mixtures); received "
                            f"values {sorted(present)[:6]} ({where})")
        if len(present) < 2:
            raise UserError(f"task 'cwola': {where} holds only mixture {present.pop() if present else '-'}"
                            f" of '{self.mixture}'; both mixtures 0 and 1 must be present to separate")
        return values

    def check_split(self, parts: dict[str, Any]) -> None:
        """Train and valid (when not empty) hold both mixtures; the true labels are only scored."""
        self.mixtures(parts["train"], "data.split train")
        if len(parts["valid"]):
            self.mixtures(parts["valid"], "data.split valid")

    def training_rows(self, part: Any, where: str) -> Any:
        """The part with ``y`` the mixture index: what every method learns to separate."""
        if len(part) == 0:
            return part
        return part.with_arrays(y=self.mixtures(part, where).astype(np.float32))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mixture": self.mixture}


class LabelProportions(Binary):
    """Learning from label proportions: bags of events with known signal fractions; scored against true labels

    Args:
        mixture: the data-set array giving each sample's bag, 0, 1, ... (K bags).
        fractions: the known signal fraction of bag 0, 1, ...; none reads each
            sample's from the array ``fraction``.
        fraction: the data-set array of each sample's bag signal fraction (one value
            per bag), read when ``fractions`` is not given (the jets source's
            ``signal_fraction``).
    """

    name = "label_proportions"

    @checked("label_proportions")
    def __init__(
        self,
        mixture: Annotated[str, Field(min_length=1, description="the name of a data-set array")] = "mixture",
        fractions: Annotated[list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] | None,
                             Field(min_length=2, description="a list of at least two signal fractions in "
                                                             "[0, 1]")] = None,
        fraction: Annotated[str, Field(min_length=1, description="the name of a data-set array")]
        = "signal_fraction",
    ) -> None:
        super().__init__()
        self.mixture = mixture
        self.fractions = None if fractions is None else [float(f) for f in fractions]
        self.fraction = fraction
        #: the bag ids travel to the device with the targets (``loss`` and ``metrics`` get a dict)
        self.target_arrays: tuple[str, ...] = ("y", mixture, BAG_FRACTION)

    def check_kind(self, kind: str, where: str) -> None:
        """Only networks: a classical method learns from a target per event, not per bag."""
        if kind != "model":
            raise UserError(f"{where}: task 'label_proportions' trains networks ('model:') only; a "
                            f"classical '{kind}:' learns from a target per event, not a bag's proportion "
                            "(use task 'cwola' for it)")

    def bag_fractions(self, part: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
        """``(bag ids, each sample's bag fraction)`` of ``part``; one-line errors for bad arrays."""
        bags = _integers(_array(part, self.mixture, self.name, where, MIXTURE_HINT), self.mixture,
                         self.name, where)
        if self.fractions is not None:
            if bags.size and bags.max() >= len(self.fractions):
                raise UserError(f"task 'label_proportions': bag {int(bags.max())} of '{self.mixture}' has no "
                                f"signal fraction in task_params.fractions {self.fractions} ({where})")
            return bags, np.asarray(self.fractions, np.float32)[bags]
        f = np.asarray(_array(part, self.fraction, self.name, where,
                              "give task_params.fractions, one per bag"), np.float32)
        if not np.all((f >= 0) & (f <= 1)):
            raise UserError(f"task 'label_proportions': array '{self.fraction}' must hold signal fractions in "
                            f"[0, 1] ({where})")
        for bag in np.unique(bags):
            if np.ptp(f[bags == bag]) > 0:
                raise UserError(f"task 'label_proportions': bag {int(bag)} of '{self.mixture}' has several "
                                f"values of '{self.fraction}'; a bag has one signal fraction ({where})")
        return bags, f

    def check_split(self, parts: dict[str, Any]) -> None:
        """Train (and valid, when not empty) hold bags of at least two different fractions."""
        for name in ("train", "valid"):
            part = parts[name]
            if name == "valid" and not len(part):
                continue
            _, f = self.bag_fractions(part, f"data.split {name}")
            if len(np.unique(f)) < 2:
                raise UserError(f"task 'label_proportions': data.split {name} holds bags of one signal "
                                f"fraction only ({sorted(set(f.tolist()))}); bags of different fractions "
                                "are what it learns from")

    def training_rows(self, part: Any, where: str) -> Any:
        """The part with ``bag_fraction`` each sample's bag fraction, ``mixture`` its bag id (int64)
        and ``y`` whether its bag is the richer (fraction above the middle of the part's fractions):
        the label the validation AUC and the variable ranking read, never the true one."""
        if len(part) == 0:
            return part
        bags, f = self.bag_fractions(part, where)
        richer = (f > 0.5 * (f.min() + f.max())).astype(np.float32)
        return part.with_arrays(y=richer, **{self.mixture: bags, BAG_FRACTION: f})

    # -- training --------------------------------------------------------------
    def loss(self, output, target, weight=None, mask=None):
        """Mean over the bags of the batch of ``KL(f_b || weighted mean p over the bag's samples)``."""
        f, bags = target[BAG_FRACTION].float().reshape(-1), target[self.mixture].reshape(-1)
        p = torch.sigmoid(output.float().reshape(-1))
        w = torch.ones_like(p) if weight is None else weight.float().reshape(-1)
        ids, inverse = torch.unique(bags, return_inverse=True)
        total = torch.zeros(len(ids), device=p.device).index_add_(0, inverse, w)
        mean_p = torch.zeros(len(ids), device=p.device).index_add_(0, inverse, w * p) / total.clamp_min(_EPS)
        mean_f = torch.zeros(len(ids), device=p.device).index_add_(0, inverse, w * f) / total.clamp_min(_EPS)
        mean_p = mean_p.clamp(_EPS, 1 - _EPS)
        kl = _xlogy(mean_f, mean_f / mean_p) + _xlogy(1 - mean_f, (1 - mean_f) / (1 - mean_p))
        return kl.mean()

    def training_loss(self, model, batch, inputs):
        output = self.forward(model, batch, inputs)
        return self.loss(output, {name: batch[name] for name in self.target_arrays}, batch.get("weight"))

    def metrics(self, output, target, weight=None, mask=None):
        """The proportion loss of the whole bags, and the AUC of telling samples of the richer bags
        (``y`` of :meth:`training_rows`) from the others: the bags' AUC, honest without labels."""
        logits = output.float().reshape(-1)
        return {"loss": self.loss(output, target, weight).detach(),
                "auc": roc_auc(logits, target["y"].float().reshape(-1), weight)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mixture": self.mixture, "fractions": self.fractions,
                "fraction": self.fraction}


def _xlogy(x: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """``x log(ratio)``, 0 where ``x`` is 0 (a bag of pure signal or background)."""
    return torch.where(x > 0, x * torch.log(ratio.clamp_min(_EPS)), torch.zeros_like(x))
