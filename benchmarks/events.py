"""The benchmarks' events: 30 Gaussian variables and the label of a noisy linear cut.

Shared by train_throughput.py (in memory), ddp_scaling.py and tune_throughput.py (as the columns
of an ``.npz`` that quanta's files source reads), so that every ratio is measured on the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES = 30


def make_data(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x[samples, 30]`` float32 and the label ``y[samples]`` (int64, about half ones)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, FEATURES)).astype(np.float32)
    w = rng.normal(size=FEATURES)
    y = (x @ w + 0.5 * rng.normal(size=samples) > 0).astype(np.int64)
    return x, y


def write_data(path: Path, samples: int, seed: int = 0) -> list[str]:
    """The events as columns ``x0 ... x29`` and ``label`` of an ``.npz``; the feature names."""
    x, y = make_data(samples, seed)
    names = [f"x{i}" for i in range(FEATURES)]
    np.savez(path, label=y, **{name: x[:, i] for i, name in enumerate(names)})
    return names
