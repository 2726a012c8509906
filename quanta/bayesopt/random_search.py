"""Random search: the baseline any Bayesian optimisation must beat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quanta.bayesopt.checks import check_bounds, check_count, check_value
from quanta.bayesopt.result import OptimisationResult, StepRecord


def random_search(
    function: Callable[[np.ndarray], float],
    bounds: Any,
    *,
    evaluations: int,
    seed: int = 0,
    maximise: bool = False,
) -> OptimisationResult:
    """``evaluations`` points drawn uniformly in the box ``[[low, high], ...]``, seeded."""
    box = check_bounds(bounds)
    evaluations = check_count("evaluations", evaluations, 1)
    seed = check_count("seed", seed, 0)
    rng = np.random.default_rng(seed)
    points = box[:, 0] + rng.random((evaluations, box.shape[0])) * (box[:, 1] - box[:, 0])
    values = np.array([check_value(function(x.copy()), x) for x in points])
    record = StepRecord(0, tuple(range(evaluations)), None, 0.0, 0.0, 0.0)
    return OptimisationResult(points, values, bool(maximise), [record])
