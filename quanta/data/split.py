"""Train / validation / test splits with a recorded seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quanta.data.dataset import Dataset
from quanta.errors import UserError

SPLITS = ("train", "valid", "test")


def split(data: Dataset, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 1) -> dict[str, Dataset]:
    """Shuffle ``data`` with ``seed`` and cut it into train, valid and test parts.

    ``fractions`` are normalised to sum to one; a zero fraction gives an empty
    part (no validation split, for instance), except train which must not be empty.
    """
    fractions = np.asarray(fractions, dtype=float)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions.sum() <= 0:
        raise UserError(f"data.split: expected three non-negative fractions [train, valid, test], received {list(fractions)}")
    fractions = fractions / fractions.sum()
    n = len(data)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    if n_train < 1:
        raise UserError(f"data.split: the training part is empty ({n} samples, fractions {list(fractions)})")
    bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n)}
    return {name: data.subset(np.sort(order[a:b])) for name, (a, b) in bounds.items()}
