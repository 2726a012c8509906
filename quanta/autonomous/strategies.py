"""Where to measure next: the autonomous (Gaussian-process) strategy, a raster and random points.

- ``raster``: the scan a user plans for a budget of ``n`` measurements: a
  ``nx x ny`` grid of about ``sqrt(n) x sqrt(n)`` cells (shaped like the
  sample), visited row by row in a serpentine; after ``m < n`` measurements it
  has covered ``m / n`` of the sample.
- ``random``: uniform random points, one at a time.
- ``gp``: a scrambled Sobol design of ``initial`` points, then at each step a
  Gaussian process fitted to the features measured so far, each with its own
  standard error as fixed noise (:func:`quanta.bayesopt.surrogate.fit_surrogate`),
  and a batch of ``q`` points of maximum posterior variance chosen greedily
  among Sobol candidates: each next point maximises the joint posterior entropy
  of the batch so far plus itself (:class:`quanta.bayesopt.max_variance.JointPosteriorEntropy`;
  the gain of one point is the log of its variance given the batch, so two
  points close together are not both chosen), minus, when ``cost_aware``, the
  log of the seconds of moving there from the previous point and measuring.
  That is *variance per second*: the log-determinant criterion prefers the
  most informative point, and dividing by its cost makes a nearby point worth
  as much as a far one of proportionally larger variance, so the stage is not
  sent across the sample for a marginal gain when the move costs more than the
  exposure. The greedy choice of a log-determinant is within (1 - 1/e) of the
  best batch (it is submodular), and on a few hundred candidates it is exact
  and quick where ``optimize_acqf`` would need restarts per point.

Every batch is visited in a short path: nearest neighbour first, from where
the stage stands. Every random choice is seeded by ``(seed, step)`` alone
(:func:`quanta.bayesopt.loop.step_seed`), so a resumed campaign chooses
exactly what the uninterrupted one did.
"""

from __future__ import annotations

import math

import numpy as np

from quanta.autonomous.beamline import Beamline
from quanta.autonomous.reconstruction import FEWEST

RANDOM_POINTS = 0xA11  # a purpose tag of the random strategy's seeds


def raster_plan(bounds: np.ndarray, measurements: int) -> np.ndarray:
    """The serpentine raster of a budget of ``measurements``, shape ``(measurements, 2)`` mm."""
    width, height = bounds[:, 1] - bounds[:, 0]
    nx = max(1, round(math.sqrt(measurements * width / height)))
    ny = math.ceil(measurements / nx)
    xs = bounds[0, 0] + (np.arange(nx) + 0.5) / nx * width
    ys = bounds[1, 0] + (np.arange(ny) + 0.5) / ny * height
    rows = [np.stack([xs if j % 2 == 0 else xs[::-1], np.full(nx, y)], axis=1)
            for j, y in enumerate(ys)]
    return np.concatenate(rows)[:measurements]


def random_point(bounds: np.ndarray, seed: int, index: int) -> np.ndarray:
    """The ``index``-th uniform random point of a campaign seeded ``seed``, shape ``(1, 2)`` mm."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, RANDOM_POINTS]))
    return bounds[:, 0] + rng.uniform(size=(1, 2)) * (bounds[:, 1] - bounds[:, 0])


def short_path(start: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (k, 2) reordered nearest neighbour first, starting from ``start`` (2,)."""
    left, order, here = list(range(len(points))), [], np.asarray(start, float)
    while left:
        distances = [float(np.hypot(*(points[i] - here))) for i in left]
        nearest = left.pop(int(np.argmin(distances)))
        order.append(nearest)
        here = points[nearest]
    return points[order]


def gp_batch(points: np.ndarray, values: np.ndarray, sigmas: np.ndarray, bounds: np.ndarray,
             start: np.ndarray, q: int, beamline: Beamline, *, candidates: int, cost_aware: bool,
             seed: int) -> np.ndarray:
    """The next ``q`` points (q, 2) mm, chosen from the successful measurements so far.

    Args:
        points, values, sigmas: the measured points (n, 2) mm, features (n,) and their
            standard errors (n,), failed ones left out.
        bounds: the sample (2, 2) mm; ``start``: where the stage stands (2,).
        candidates: Sobol candidates drawn for this step.
        cost_aware: subtract the log of the seconds of moving and measuring.
        seed: this step's seed (the fit and the candidates).
    """
    import torch

    from quanta.bayesopt.loop import sobol_design
    from quanta.bayesopt.surrogate import fit_surrogate, one_thread

    pool = sobol_design(bounds, candidates, seed)  # (m, 2)
    if len(values) < FEWEST:  # nothing to fit yet: spread points
        return short_path(start, pool[:q])
    from quanta.bayesopt.max_variance import JointPosteriorEntropy

    chosen: list[np.ndarray] = []
    here = np.asarray(start, float)
    with one_thread():
        model = fit_surrogate(points, values, bounds, sigmas, seed)
    with one_thread(), torch.no_grad():
        entropy = JointPosteriorEntropy(model)
        pool_t = torch.as_tensor(pool, dtype=torch.float64).unsqueeze(1)  # (m, 1, 2)
        for _ in range(q):
            batch = torch.as_tensor(np.asarray(chosen).reshape(-1, 2), dtype=torch.float64)
            batches = torch.cat([batch.expand(len(pool), -1, -1), pool_t], dim=1)  # (m, k+1, 2)
            score = entropy(batches).numpy()  # (m,)
            if cost_aware:
                score = score - np.log(beamline.move_seconds_to(here, pool) + beamline.exposure)
            best = int(np.argmax(score))
            chosen.append(pool[best])
            here = pool[best]
    return short_path(start, np.asarray(chosen))
