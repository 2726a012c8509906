"""Acceptance over 5 seeds: BO-EI reaches a stated regret on Branin and Hartmann-6, random search not.

Slow (measured 97 s for Branin, 222 s for Hartmann-6 on a loaded two-core
machine); ``benchmarks/bayesopt_regret.py`` prints the full tables, UCB included.
"""

from __future__ import annotations

import numpy as np
import pytest

from quanta.bayesopt import optimise, random_search

pytest.importorskip("botorch")

SEEDS = range(5)


def problem(name: str):
    """The function, its box (d, 2) and its known minimum, from botorch.test_functions."""
    import torch
    from botorch.test_functions import Branin, Hartmann

    test = Branin() if name == "branin" else Hartmann(dim=6)

    def function(x: np.ndarray) -> float:
        return float(test(torch.as_tensor(x, dtype=torch.float64).unsqueeze(0)))

    return function, test.bounds.T.numpy(), float(test.optimal_value)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "budget", "threshold"),
    # measured mean regret over seeds 0-4 at the budget: Branin BO-EI 0.0073 +- 0.0027,
    # random search 2.0 +- 0.7; Hartmann-6 BO-EI 0.11 +- 0.03 (worst seed 0.19),
    # random search 1.39 +- 0.28
    [("branin", 30, 0.05), ("hartmann6", 60, 0.3)],
)
def test_expected_improvement_reaches_the_regret_random_search_does_not(name, budget, threshold):
    function, box, minimum = problem(name)
    bo = np.array(
        [optimise(function, box, evaluations=budget, seed=s).regret(minimum) for s in SEEDS]
    )
    rs = np.array(
        [random_search(function, box, evaluations=budget, seed=s).regret(minimum) for s in SEEDS]
    )
    assert bo[:, -1].mean() < threshold < rs[:, -1].mean()
    # fewer evaluations: BO reaches the threshold on every seed within the budget, random
    # search's mean regret is still above it after the whole budget
    assert (bo[:, -1] <= threshold).all()
