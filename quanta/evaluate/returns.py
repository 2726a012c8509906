"""Metrics of an agent's episodes: the return of each evaluation episode, summarised."""

from __future__ import annotations

import math

import numpy as np


def return_metrics(y: np.ndarray | None, score: np.ndarray, weight: np.ndarray | None = None) -> dict[str, float]:
    """``mean_return`` with its standard error, the spread, median, worst and best of the episodes.

    ``score`` holds one return per episode (an agent's predictions of a part);
    ``y`` and ``weight`` do not apply (an environment has neither).
    """
    returns = np.asarray(score, dtype=np.float64).reshape(-1)
    if returns.size == 0:
        return {}
    spread = float(np.std(returns, ddof=1)) if returns.size > 1 else math.nan
    return {"mean_return": float(np.mean(returns)),
            "mean_return_error": spread / math.sqrt(returns.size) if returns.size > 1 else math.nan,
            "std_return": spread, "median_return": float(np.median(returns)),
            "min_return": float(np.min(returns)), "max_return": float(np.max(returns)),
            "episodes": float(returns.size)}
