"""Class reweighting in one variable: flat, or to a common or a reference class's distribution.

Jet-tagging studies remove what a classifier could learn from the jet pT
spectrum alone by weighting each class to the same distribution in pT (or to
a flat one). :class:`Reweighting` histograms the variable per class in bins of
equal total population (quantiles of all rows), computes for every class and
bin the factor that moves the class's (weighted) histogram onto the target
shape, and keeps each class's total weight unchanged, so the class balance is
what it was.

Targets:
    - ``flat``: uniform density in the variable (each bin's share is its width);
    - ``common``: the average of the classes' normalised distributions;
    - a class name: that class's distribution (its rows keep weight 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.errors import UserError


@dataclass
class Reweighting:
    """Per-class, per-bin weight factors in one variable.

    Attributes:
        edges: bin edges ``[B + 1]`` (values beyond them fall in the outer bins).
        factors: ``[classes, B]`` factors multiplying each row's weight.
    """

    edges: np.ndarray
    factors: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None, bins: int = 20,
            target: str = "flat", classes: list[str] | None = None) -> Reweighting:
        """Factors for ``values`` of rows with class ``labels`` (and prior ``weights``)."""
        values = np.asarray(values, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
        if bins < 1:
            raise UserError(f"reweight_bins: expected a positive integer, received {bins}")
        if len(values) == 0:
            raise UserError("reweight: no rows to reweight")
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
        if len(edges) < 2:
            edges = np.array([values[0] - 0.5, values[0] + 0.5])
        n_classes = int(labels.max()) + 1
        index = cls._bin(edges, values)
        counts = np.zeros((n_classes, len(edges) - 1))
        np.add.at(counts, (labels, index), weights)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        names = list(classes or [str(i) for i in range(n_classes)])
        if target == "flat":
            shape = np.diff(edges)
        elif target == "common":
            shape = shares[totals[:, 0] > 0].mean(axis=0)
        elif target in names:
            shape = shares[names.index(target)]
        else:
            raise UserError(f"reweight_to: '{target}' is not flat, common or a class ({', '.join(names)})")
        shape = shape / shape.sum()
        factors = np.divide(shape[None, :] * totals, counts, out=np.zeros_like(counts), where=counts > 0)
        # bins a class does not populate cannot receive its weight: renormalise to keep class totals
        kept = (factors * counts).sum(axis=1, keepdims=True)
        factors *= np.divide(totals, kept, out=np.ones_like(kept), where=kept > 0)
        return cls(edges, factors.astype(np.float32))

    @staticmethod
    def _bin(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)

    def __call__(self, values: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The weight factor of each row (float32)."""
        labels = np.asarray(labels, dtype=np.int64)
        if labels.size and labels.max() >= len(self.factors):
            return np.ones(len(labels), np.float32)  # a class unseen when fitting keeps its weights
        return self.factors[labels, self._bin(self.edges, np.asarray(values))]
