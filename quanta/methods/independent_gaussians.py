"""Independent Gaussians per input element: the trivial generative baseline.

Every element of ``x`` (a feature, a calorimeter cell) gets its own Gaussian,
the mean and standard deviation of that element over the training split; a
sample draws every element independently from its Gaussian. It reproduces
each element's mean and spread exactly and nothing else: no correlation
between cells, no shower-to-shower fluctuation of the shape. A generative
network is worth its training only where it beats this (the classifier test
and the correlations of ``quanta.evaluate.generated`` tell).

With ``condition`` (a data-set array such as the beam energy) the Gaussians
are fitted separately in ``bins`` quantile bins of that array (equal numbers
of training samples per bin); a requested condition value draws from the
bin it falls in (values beyond the training range from the first or last).
Statistics are accumulated chunk by chunk (Chan et al.'s pairwise update of
mean and squared deviations, in float64), so a part streamed from disk is
fitted as one in memory; event weights do not enter the fit.

The per-sample score (:meth:`IndependentGaussians.predict`) is the negative
log-likelihood of the sample under the fitted Gaussians (summed over the
elements, in nats, ignoring the clipping), the anomaly score of a density
model. Saved without pickle: one safetensors file (digest checked on load).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.methods.base import Method

MODEL_FILE = "independent_gaussians.safetensors"
FORMAT = "quanta.independent_gaussians/1"
#: the smallest standard deviation of the likelihood, relative to the largest of all elements (or
#: to 1): a cell that is constant in training (always zero) keeps a finite log-likelihood, and is
#: drawn constant
STD_FLOOR = 1e-6


class IndependentGaussians(Method):
    """Independent Gaussians per input element, optionally in bins of a condition: the generative baseline

    Args:
        condition: the name of a data-set array (``energy``) to condition on; the
            Gaussians are fitted in ``bins`` quantile bins of it. None: one set for all.
        bins: the number of quantile bins of ``condition`` (fewer where its values tie).
        clip_min: samples below it are set to it. The default 0 suits energies and
            counts, which are never negative; fitting refuses training inputs below it
            (signed inputs need ``clip_min: null`` or their own bound).
        threshold: samples below it read 0, a readout's zero suppression, as the
            generative networks' ``threshold`` (:mod:`quanta.models.readout`); None: none.

    Needs no labels; ``sample(n, condition, seed)`` draws new inputs in the data's units.
    """

    generates = True

    def __init__(self, condition: str | None = None,
                 bins: Annotated[int, Field(ge=1, le=1000, description="an integer in [1, 1000]")] = 10,
                 clip_min: float | None = 0.0, threshold: float | None = None):
        self.condition = condition
        self.bins = bins
        self.clip_min = clip_min
        self.threshold = threshold
        self.history = []

    @property
    def conditions(self) -> tuple[str, ...]:
        """The data-set arrays the samples are conditioned on (none, or ``condition``)."""
        return () if self.condition is None else (self.condition,)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, train, valid, task, **context: Any) -> IndependentGaussians:
        """Fit each element's mean and standard deviation (per bin of the condition) on ``train``."""
        if task.evaluation.output != "anomaly_scores":
            raise UserError(f"independent_gaussians: task '{task.name}' is not supported; this "
                            "generative baseline scores each sample by its negative log-likelihood "
                            "(task: generation)")
        callbacks = context.get("callbacks")
        self.notify(callbacks, "on_fit_start", self)
        self.input_shape_ = [int(n) for n in train.shapes["x"]]
        if self.condition is None:
            self.edges_ = np.zeros(0)
        else:
            values = np.concatenate([self._condition_of(chunk) for chunk in train.in_chunks()])
            if len(values) < 2:
                raise UserError(f"independent_gaussians: {len(values)} training samples; a Gaussian "
                                "needs at least 2")
            inner = np.quantile(values, np.linspace(0, 1, self.bins + 1)[1:-1])
            self.edges_ = np.unique(inner)  # tied values (a few beam energies) merge bins
        count, mean, squares = self._moments(train)
        small = int(np.argmin(count))
        if count[small] < 2:
            where = "" if self.condition is None else f" in bin {small} of {self.condition} (lower bins)"
            raise UserError(f"independent_gaussians: {int(count[small])} training samples{where}; "
                            "a Gaussian needs at least 2")
        self.mean_, self.std_ = mean, np.sqrt(squares / count[:, None])
        self.notify(callbacks, "on_fit_end", self)
        return self

    def _moments(self, part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per bin: sample count [B], mean [B, F] and summed squared deviations [B, F] of ``x``."""
        size = int(np.prod(self.input_shape_))
        bins = len(self.edges_) + 1
        count, mean, squares = np.zeros(bins), np.zeros((bins, size)), np.zeros((bins, size))
        for chunk in part.in_chunks():
            x = np.asarray(chunk.x, dtype=np.float64).reshape(len(chunk), size)
            if self.clip_min is not None and len(x) and x.min() < self.clip_min:
                where = np.unravel_index(int(np.argmin(x)), x.shape)
                raise UserError(f"independent_gaussians: clip_min={self.clip_min} but input element "
                                f"{where[1]} reaches {x[where]:.4g} in training; set clip_min: null "
                                "for signed inputs, or a lower bound")
            which = self._bins_of(chunk)
            for b in np.unique(which):
                rows = x[which == b]
                n, m = len(rows), rows.mean(axis=0)
                m2 = ((rows - m) ** 2).sum(axis=0)
                total = count[b] + n
                delta = m - mean[b]
                squares[b] += m2 + delta ** 2 * count[b] * n / total
                mean[b] += delta * n / total
                count[b] = total
        return count, mean, squares

    def _condition_of(self, part) -> np.ndarray:
        """The part's condition values, float64 [N], or a one-line error naming the array."""
        if self.condition not in part:
            arrays = ", ".join(sorted(part.arrays)) if hasattr(part, "arrays") else "none"
            raise UserError(f"independent_gaussians.condition: the data set has no array "
                            f"'{self.condition}'; it has: {arrays}")
        values = np.asarray(part[self.condition], dtype=np.float64)
        if values.shape != (len(part),):
            raise UserError(f"independent_gaussians.condition: '{self.condition}' must hold one "
                            f"number per sample; received shape {list(values.shape)}")
        return values

    def _bins_of(self, part) -> np.ndarray:
        if self.condition is None:
            return np.zeros(len(part), dtype=np.int64)
        return np.searchsorted(self.edges_, self._condition_of(part), side="right")

    # -- scores and samples -------------------------------------------------------------------
    def predict(self, data) -> np.ndarray:
        """Each sample's negative log-likelihood under the fitted Gaussians, float32 [N]."""
        self._check_fitted("mean_")
        if data.streamed:
            from quanta.methods.base import predict_in_chunks

            return predict_in_chunks(data, self.predict)
        size = self.mean_.shape[1]
        x = np.asarray(data.x, dtype=np.float64).reshape(len(data), -1)
        if x.shape[1] != size:
            raise UserError(f"independent_gaussians: fitted on samples of {size} elements; "
                            f"received {x.shape[1]}")
        which = self._bins_of(data)
        floor = STD_FLOOR * max(float(self.std_.max()), 1.0)
        mean, std = self.mean_[which], np.maximum(self.std_[which], floor)  # [N, F]
        nll = 0.5 * (((x - mean) / std) ** 2).sum(axis=1) + np.log(std).sum(axis=1)
        return (nll + 0.5 * size * math.log(2 * math.pi)).astype(np.float32)

    def sample(self, n: int, condition: dict[str, Any] | None = None, seed: int = 0) -> np.ndarray:
        """``n`` new samples ``[n, *input_shape]`` in the data's units, float32.

        ``condition`` gives ``{condition: one value or n values}`` when the method
        is conditional; the same ``seed`` gives the same samples.
        """
        self._check_fitted("mean_")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise UserError(f"sample: n must be an integer >= 1, received {n!r}")
        n = int(n)
        which = np.zeros(n, dtype=np.int64)
        values = self._requested(condition or {}, n)
        if self.condition is not None:
            which = np.searchsorted(self.edges_, values, side="right")
        draws = np.random.default_rng(seed).standard_normal((n, self.mean_.shape[1]))
        x = self.mean_[which] + self.std_[which] * draws
        if self.clip_min is not None:
            x = np.maximum(x, self.clip_min)
        if self.threshold is not None:
            x = np.where(x < self.threshold, 0.0, x)
        return x.reshape(n, *self.input_shape_).astype(np.float32)

    def _requested(self, condition: dict[str, Any], n: int) -> np.ndarray | None:
        """The requested condition values, float64 [n] (None when unconditional), or a one-line error."""
        unknown = sorted(set(condition) - set(self.conditions))
        if unknown:
            allowed = self.condition or "none (the method is not conditional)"
            raise UserError(f"sample: condition '{unknown[0]}' is not one the method was fitted "
                            f"on; allowed: {allowed}")
        if self.condition is None:
            return None
        if self.condition not in condition:
            raise UserError(f"sample: the method is conditioned on {self.condition}; give it "
                            f"(e.g. condition={{'{self.condition}': 50.0}})")
        try:
            values = np.asarray(condition[self.condition], dtype=np.float64)
        except (TypeError, ValueError):
            raise UserError(f"sample: condition {self.condition} must be numbers, received "
                            f"{condition[self.condition]!r}") from None
        if values.ndim == 0:
            values = np.full(n, float(values))
        if values.shape != (n,) or not np.all(np.isfinite(values)):
            raise UserError(f"sample: condition {self.condition} must be one finite value or {n} "
                            f"of them, received shape {values.shape}")
        return values

    # -- persistence: safetensors + the JSON header, never pickle -----------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted("mean_")
        import torch

        from quanta.train.checkpoint import save_checkpoint

        tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in
                   (("mean", self.mean_), ("std", self.std_), ("edges", self.edges_))}
        meta = {"format": FORMAT, "condition": self.condition, "bins": self.bins,
                "clip_min": self.clip_min, "threshold": self.threshold, "input_shape": self.input_shape_}
        path = Path(directory) / MODEL_FILE
        save_checkpoint(path, tensors, meta)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> IndependentGaussians:
        from quanta.train.checkpoint import load_checkpoint

        path = Path(directory) / MODEL_FILE
        if not path.exists():
            raise UserError(f"{path}: no saved independent_gaussians here")
        tensors, meta = load_checkpoint(path)  # refuses a file whose digest does not match
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise UserError(f"{path}: not a saved independent_gaussians ({FORMAT})")
        try:
            condition, clip_min, threshold = meta["condition"], meta["clip_min"], meta.get("threshold")
            method = cls(None if condition is None else str(condition), int(meta["bins"]),
                         None if clip_min is None else float(clip_min),
                         None if threshold is None else float(threshold))
            method.input_shape_ = [int(n) for n in meta["input_shape"]]
            method.mean_ = tensors["mean"].double().numpy()
            method.std_ = tensors["std"].double().numpy()
            method.edges_ = tensors["edges"].double().numpy()
            size = int(np.prod(method.input_shape_))
            bins = len(method.edges_) + 1
            if method.mean_.shape != (bins, size) or method.std_.shape != (bins, size):
                raise ValueError("means and standard deviations do not match the description")
        except KeyError as error:
            raise UserError(f"{path}: cannot rebuild the saved independent_gaussians (it lacks "
                            f"{error})") from None
        except (ValueError, TypeError) as error:
            raise UserError(f"{path}: cannot rebuild the saved independent_gaussians "
                            f"({str(error) or type(error).__name__})") from None
        return method


__all__ = ["IndependentGaussians", "MODEL_FILE"]
