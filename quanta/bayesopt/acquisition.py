"""The acquisitions: where the next point, or batch of points, is worth measuring.

- ``ei``: expected improvement over the best value so far, as BoTorch's
  ``LogExpectedImprovement`` (one point) and ``qLogExpectedImprovement`` (a
  batch). Plain EI underflows to exactly zero, value and gradient, once a
  candidate's mean lies a few sigma below the incumbent, so the optimiser of
  the acquisition sees a flat landscape and stalls; clipping it, as gpCAM once
  did, turns it into pure variance. Log-EI computes the logarithm stably: small
  improvements stay ordered and gradients informative (Ament et al.,
  "Unexpected Improvements to Expected Improvement", NeurIPS 2023).
- ``ucb``: upper confidence bound ``mean + sqrt(beta) sigma`` (``UpperConfidenceBound``,
  ``qUpperConfidenceBound``).
- ``max_variance``: pure exploration, the posterior entropy of the batch
  (:class:`quanta.bayesopt.max_variance.JointPosteriorEntropy`).

Batches of ``q`` points are chosen jointly by ``optimize_acqf`` on the
Monte Carlo (quasi-random, seeded) batch acquisition, so a batch does not pile
up on one spot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.bayesopt.surrogate import fit_surrogate, one_thread, require_botorch

#: the acquisitions by name
ACQUISITIONS = ("ei", "ucb", "max_variance")

#: quasi-Monte Carlo samples of the posterior for the batch acquisitions
MC_SAMPLES = 256
#: starting points of the acquisition's gradient optimisation, and the raw samples they come from
RESTARTS, RAW_SAMPLES = 8, 256


def build_acquisition(
    name: str, model: Any, best: float, beta: float, seed: int, q: int = 1
) -> Any:
    """The BoTorch acquisition ``name`` of ``q`` points on ``model`` (objective maximised).

    ``best`` is the best objective so far. One point gets the exact analytic
    form (``LogExpectedImprovement``, ``UpperConfidenceBound``: the same
    quantities, faster and without Monte Carlo noise); a batch gets the
    quasi-Monte Carlo joint form, seeded by ``seed``.
    """
    require_botorch()
    import torch
    from botorch.acquisition import (
        LogExpectedImprovement,
        UpperConfidenceBound,
        qLogExpectedImprovement,
        qUpperConfidenceBound,
    )
    from botorch.sampling import SobolQMCNormalSampler

    if name == "max_variance":
        from quanta.bayesopt.max_variance import JointPosteriorEntropy

        return JointPosteriorEntropy(model)
    if q == 1:
        if name == "ei":
            return LogExpectedImprovement(model, best_f=best)
        return UpperConfidenceBound(model, beta=beta)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
    if name == "ei":
        return qLogExpectedImprovement(model, best_f=best, sampler=sampler)
    return qUpperConfidenceBound(model, beta=beta, sampler=sampler)


def choose_batch(
    acquisition: Any, bounds: np.ndarray, q: int, seed: int
) -> tuple[np.ndarray, float]:
    """The ``q`` points (shape ``(q, d)``) that jointly maximise the acquisition, and its value."""
    import torch
    from botorch.optim import optimize_acqf

    torch.manual_seed(seed)
    box = torch.as_tensor(np.asarray(bounds).T, dtype=torch.float64)
    candidates, value = optimize_acqf(
        acquisition, bounds=box, q=q, num_restarts=RESTARTS, raw_samples=RAW_SAMPLES
    )
    return candidates.detach().numpy().astype(float), float(value)


def values_at(acquisition: Any, x: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """The single-point acquisition at each row of ``x`` (shape ``(m, d)``), shape ``(m,)``."""
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            block = torch.as_tensor(x[start : start + chunk], dtype=torch.float64)
            out.append(acquisition(block.unsqueeze(-2)).numpy())  # (m, 1, d) -> (m,)
    return np.concatenate(out) if out else np.empty(0)


def acquisition_values(
    points: np.ndarray,
    values: np.ndarray,
    bounds: np.ndarray,
    candidates: np.ndarray,
    *,
    acquisition: str = "ei",
    maximise: bool = False,
    beta: float = 4.0,
    noise: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The acquisition of each single candidate, given the evaluations so far.

    Fits the surrogate to ``points`` (shape ``(n, d)``) and ``values`` (shape
    ``(n,)``) as :func:`quanta.bayesopt.optimise` does, and returns the
    acquisition at every row of ``candidates`` (shape ``(m, d)``): log expected
    improvement, the upper confidence bound, or ``2 log sigma``.
    """
    from quanta.bayesopt.checks import check_acquisition, check_bounds, check_evaluations

    box = check_bounds(bounds)
    check_acquisition(acquisition)
    points, values = check_evaluations(points, values, box)
    objective = values if maximise else -values
    with one_thread():
        model = fit_surrogate(points, objective, box, noise, seed)
        function = build_acquisition(acquisition, model, float(objective.max()), beta, seed)
        return values_at(function, np.asarray(candidates, dtype=float).reshape(-1, box.shape[0]))
