"""A fitted method's variable ranking: which inputs it uses (``importance.json``, the report's table).

Permutation importance on a seeded sample of the validation split (the same
events and shuffles for every method, :mod:`quanta.evaluate.importance`) and
the trees' own importances (:mod:`quanta.methods.importance`); the runner
(:mod:`quanta.experiment`) writes the record after a method's metrics.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from quanta.config import ImportanceConfig
from quanta.data.dataset import Dataset
from quanta.tasks.evaluation import per_element


def variable_ranking(estimator, task, valid, seed: int,
                     settings: ImportanceConfig) -> dict[str, Any]:
    """A fitted method's variable ranking (``importance.json``): permutation and trees' importance.

    Each variable of a table ``x[N, F]`` (each per-particle feature of sets ``x[N, P, F]``) is
    shuffled ``settings.repeats`` times among at most ``settings.rows`` validation events, drawn
    with ``seed`` so that every method sees the same events and shuffles, and the drop of the
    task's monitored metric is recorded with its spread (:mod:`quanta.evaluate.importance`).
    Trees add their own importances (:mod:`quanta.methods.importance`). What cannot be ranked is
    said in ``left_out``.
    """
    from quanta.evaluate.importance import permutation_importance
    from quanta.methods.importance import tree_importances

    start = time.perf_counter()
    shape, names = tuple(valid.input_shape), valid.feature_names
    if not names and len(shape) == 1:  # the columns of arrays passed to quanta.fit, by index
        names = [f"x{j}" for j in range(shape[0])]
    goal = task.goal(task.monitor)
    record: dict[str, Any] = {"split": "valid", "metric": task.monitor, "goal": goal}
    reason = _unnamed_inputs(shape, names)
    reads = tuple(getattr(estimator, "inputs", ("x",)))  # a network's model names the arrays it reads
    if "x" not in reads:
        reason = f"the model does not read x (it reads {', '.join(reads)})"
    if reason is not None:
        return {**record, "left_out": reason, "features": []}
    features: list[dict[str, Any]] = [{"name": str(n)} for n in names]
    trees = tree_importances(estimator, shape)
    if trees is not None:
        record["trees_measure"] = trees[1]
        for feature, value in zip(features, trees[0], strict=True):
            feature["trees"] = float(value)
    if settings.repeats == 0:
        reason = "importance.repeats is 0: shuffling turned off"
    elif len(valid) == 0:
        reason = "the validation split is empty"
    elif len(names) > settings.max_features:
        reason = (f"{len(names)} variables, more than importance.max_features = "
                  f"{settings.max_features}")
    else:
        sample = _validation_sample(valid, settings.rows, seed)
        heads = task.evaluation_heads(sample.targets, estimator.predict(sample))
        mask = sample.arrays.get("mask") if len(shape) == 2 else None
        mask = mask if mask is not None and mask.shape == sample.x.shape[:2] else None

        def predict(x: np.ndarray) -> np.ndarray:  # x: [copies * N, ...]; the rest repeated alike
            copies = len(x) // len(sample)
            others = {key: np.concatenate([value] * copies) for key, value in sample.arrays.items()
                      if key != "x" and copies > 1}
            return estimator.predict(sample.with_arrays(x=x, **others))

        def metric(score: np.ndarray) -> float:
            ((evaluation, target, scored),) = task.evaluation_heads(sample.targets, score).values()
            y, scored, weight = per_element(sample.targets, target, scored)
            return evaluation.metrics(y, scored, weight).get(task.monitor, math.nan)

        if len(heads) != 1:
            reason = (f"the task scores {len(heads)} heads ({', '.join(heads)}), each by its own "
                      "metrics")
        else:
            result = permutation_importance(sample.x, predict, metric, goal, settings.repeats, seed,
                                            mask)
            if not (math.isfinite(result.baseline) and np.isfinite(result.drops).all()):
                reason = (f"validation {task.monitor} is not defined on the {len(sample):,} "
                          "events drawn")
            else:
                record.update(rows=len(sample), repeats=settings.repeats, seed=seed,
                              baseline=result.baseline)
                std = result.std
                for j, feature in enumerate(features):
                    feature["drop"] = float(result.mean[j])
                    if std is not None:
                        feature["drop_std"] = float(std[j])
    if reason is not None:
        record["left_out"] = reason
    return {**record, "features": features, "seconds": time.perf_counter() - start}


def _unnamed_inputs(shape: tuple[int, ...], names: list[str] | None) -> str | None:
    """Why inputs of per-event ``shape`` have no named variables to rank, or None if they have."""
    if len(shape) not in (1, 2):
        return (f"the inputs are {' × '.join(map(str, shape))} values per event (an image or a "
                "grid), not named variables")
    if not names:
        return "the inputs have no variable names"
    if len(names) != shape[-1]:
        per = "event" if len(shape) == 1 else "element"
        return f"{len(names)} variable names for {shape[-1]} values per {per}"
    return None


def _validation_sample(valid, rows: int, seed: int) -> Dataset:
    """At most ``rows`` events of the validation part drawn with ``seed``; a streamed part is read
    once, each chunk giving its share, so that events of every file are drawn."""
    rng = np.random.default_rng(seed)
    if not valid.streamed:
        if len(valid) <= rows:
            return valid
        return valid.subset(np.sort(rng.choice(len(valid), rows, replace=False)))
    share = min(1.0, rows / len(valid))
    pieces = [chunk.subset(np.flatnonzero(rng.random(len(chunk)) < share))
              for chunk in valid.in_chunks()]
    arrays = {key: np.concatenate([piece[key] for piece in pieces])[:rows]
              for key in pieces[0].arrays}
    return Dataset(arrays, name=f"{valid.name} sample", feature_names=valid.feature_names,
                   classes=valid.classes)


__all__ = ["variable_ranking"]
