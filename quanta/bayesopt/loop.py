"""The optimisation loop: an initial Sobol design, then fit, acquire a batch, evaluate, repeat.

Every step's randomness (the Gaussian-process fit, the acquisition's
quasi-Monte Carlo samples and starting points) is seeded by ``(seed, step)``
alone, so a run resumed from its evaluation log continues exactly as the
uninterrupted run would have: the logged evaluations are replayed (the
function is not called again) and the first step not in the log is computed
from the same evaluations with the same seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from quanta.bayesopt.acquisition import build_acquisition, choose_batch
from quanta.bayesopt.checks import (
    check_acquisition,
    check_bounds,
    check_count,
    check_positive,
    check_value,
)
from quanta.bayesopt.log import EvaluationLog, read_log
from quanta.bayesopt.result import OptimisationResult, StepRecord
from quanta.bayesopt.surrogate import fit_surrogate, one_thread, require_botorch
from quanta.errors import UserError


def step_seed(seed: int, step: int) -> int:
    """The seed of one step, from the optimisation's seed and the step alone."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def sobol_design(box: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` scrambled Sobol points in the box ``(d, 2)``, shape ``(count, d)``."""
    import torch
    from torch.quasirandom import SobolEngine

    unit = SobolEngine(box.shape[0], scramble=True, seed=seed).draw(count, dtype=torch.float64)
    return box[:, 0] + unit.numpy() * (box[:, 1] - box[:, 0])


def optimise(
    function: Callable[[np.ndarray], float],
    bounds: Any,
    *,
    evaluations: int,
    batch: int = 1,
    acquisition: str = "ei",
    initial: int | None = None,
    seed: int = 0,
    beta: float = 4.0,
    maximise: bool = False,
    noise: float | None = None,
    callback: Callable[[OptimisationResult, StepRecord], None] | None = None,
    figures: str | Path | None = None,
    log: str | Path | None = None,
    resume: bool = False,
) -> OptimisationResult:
    """Bayesian optimisation of an expensive function of a few parameters.

    Args:
        function: takes the parameters as a 1-D array of shape ``(d,)`` and
            returns one finite number (a measurement, a simulation's figure of merit).
        bounds: the box searched, ``[[low, high], ...]``, one row per parameter.
        evaluations: the budget, counting the initial design; the last batch
            is cut to fit it.
        batch: points chosen jointly per step (evaluated, e.g., in parallel).
        acquisition: ``"ei"`` (log expected improvement), ``"ucb"`` (upper
            confidence bound) or ``"max_variance"`` (pure exploration).
        initial: points of the scrambled Sobol design before the first fit
            (default ``2 d + 1``).
        seed: decides every random choice, so a run is reproducible.
        beta: the UCB's exploration weight: ``mean + sqrt(beta) sigma``.
        maximise: look for the largest value instead of the smallest.
        noise: the standard deviation of one measurement, if known; None
            learns one noise level from the data.
        callback: called after each step (replayed ones too) with the result
            so far and the step's record.
        figures: a folder receiving ``step_NNN.png`` per acquired step: the
            surrogate's mean and 2 sigma band, the evaluations, the acquisition
            and the chosen points (1-D slices through the best point when d > 1).
        log: a JSON-lines file receiving every evaluation as it is made.
        resume: continue the optimisation whose ``log`` is given, with the same
            result as an uninterrupted run of the same settings (a larger
            ``evaluations`` than before extends a finished optimisation).

    Returns:
        An :class:`~quanta.bayesopt.result.OptimisationResult`.
    """
    box = check_bounds(bounds)
    d = box.shape[0]
    acquisition = check_acquisition(acquisition)
    evaluations = check_count("evaluations", evaluations, 1)
    batch = check_count("batch", batch, 1)
    seed = check_count("seed", seed, 0)
    initial = check_count("initial", 2 * d + 1 if initial is None else initial, 2)
    if evaluations < initial:
        raise UserError(
            f"evaluations: must be at least the {initial} points of the initial design; "
            f"received {evaluations}"
        )
    beta = check_positive("beta", beta)
    noise = None if noise is None else check_positive("noise", noise)
    if resume and log is None:
        raise UserError("resume: needs the log of the optimisation to continue (log=...)")
    require_botorch()

    settings = {
        "bounds": box.tolist(),
        "seed": seed,
        "acquisition": acquisition,
        "batch": batch,
        "initial": initial,
        "maximise": bool(maximise),
        "noise": noise,
        "beta": beta,
    }
    log_path = None if log is None else Path(log)
    logged = read_log(log_path, settings) if resume else []
    writer = EvaluationLog(log_path)
    if not resume:
        writer.start(settings)
    folder = None if figures is None else Path(figures)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

    result = OptimisationResult(np.empty((0, d)), np.empty(0), bool(maximise), [])
    sign = 1.0 if maximise else -1.0
    step = 0
    while len(result.values) < evaluations:
        start = len(result.values)
        q = initial if step == 0 else min(batch, evaluations - start)
        replayed = [logged[i] for i in range(start, min(start + q, len(logged)))]
        fit_s = acq_s = 0.0
        value = None
        if len(replayed) == q and step > 0:
            candidates = np.empty((0, d))
            first = replayed[0]
            value, fit_s, acq_s = (
                first["acquisition_value"],
                first["fit_seconds"],
                first["acquisition_seconds"],
            )
        elif step == 0:
            candidates = sobol_design(box, initial, seed)
        else:
            with one_thread():
                t0 = time.perf_counter()
                model = fit_surrogate(
                    result.points, sign * result.values, box, noise, step_seed(seed, step)
                )
                t1 = time.perf_counter()
                best = float((sign * result.values).max())
                acq = build_acquisition(acquisition, model, best, beta, step_seed(seed, step), q)
                candidates, value = choose_batch(acq, box, q, step_seed(seed, step))
            acq_s, fit_s = time.perf_counter() - t1, t1 - t0
            if folder is not None:
                from quanta.bayesopt.figures import step_figure

                with one_thread():  # the exact single-point acquisition, not the batch's MC one
                    single = build_acquisition(acquisition, model, best, beta, 0, q=1)
                    figure = step_figure(model, single, box, result, candidates, step, acquisition)
                figure.savefig(folder / f"step_{step:03d}.png", dpi=100)
        new_x, new_y, eval_s = [], [], 0.0
        for j in range(q):
            if j < len(replayed):
                x, y = np.asarray(replayed[j]["x"], dtype=float), float(replayed[j]["y"])
                eval_s += replayed[j]["evaluation_seconds"]
            else:
                x = candidates[j]
                t0 = time.perf_counter()
                y = check_value(function(x.copy()), x)
                seconds = time.perf_counter() - t0
                eval_s += seconds
                writer.evaluation(
                    {
                        "step": step,
                        "index": start + j,
                        "x": x.tolist(),
                        "y": y,
                        "acquisition_value": value,
                        "fit_seconds": fit_s,
                        "acquisition_seconds": acq_s,
                        "evaluation_seconds": seconds,
                    }
                )
            new_x.append(x)
            new_y.append(y)
        result.points = np.vstack([result.points, np.asarray(new_x)])
        result.values = np.concatenate([result.values, np.asarray(new_y)])
        record = StepRecord(step, tuple(range(start, start + q)), value, fit_s, acq_s, eval_s)
        result.steps.append(record)
        if callback is not None:
            callback(result, record)
        step += 1
    return result
