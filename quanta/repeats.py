"""Repeated trainings: every method retrained with N initialisation seeds on one split, mean ± std.

``repeat: N`` (or ``quanta run --repeat N``) trains each method N times. Repeat
0 is the run as it is without ``repeat``: the method's folder, ``metrics.json``
and everything that reads them are unchanged. Repeat r >= 1 retrains every
method on the SAME prepared split (prepared once; the test split is scored once
per training, at its end) with the seed :func:`repeat_seed` (experiment seed,
r) in place of the experiment's: a network's ``train.seed`` (initialisation,
batch order, dropout), a classical method's ``seed`` parameter when it takes
one (a method without a seed, such as logistic regression, is retrained alike
and gives the same numbers). The data, the split, the variable ranking's
shuffles and a generative method's draws keep the experiment's seed.

Layout: repeat r's folders form a run directory of their own inside the run,
``repeats/<r>/<method>/``, each a method folder as the run's own (predictions,
metrics, history, manifest), so that a method that reads earlier methods of the
run (``ensemble``, ``codes_from``) reads those of its own repeat. ``repeats.json``
in the run directory holds, per method, split and metric, the per-repeat
values, their mean and standard deviation (``ddof = 1``, the spread of one
training, as the top-tagging landscape tables quote it), and the seeds.
A resumed run keeps every finished repeat and continues an interrupted one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quanta.errors import UserError
from quanta.rundir import RunDirectory

#: the degrees of freedom subtracted in the standard deviation over repeats
DDOF = 1
LIMIT = "_lower_limit"  # the companion flag of a metric that is a lower limit


def repeat_seed(seed: int, repeat: int) -> int:
    """The training seed of repeat ``repeat`` of an experiment seeded ``seed`` (repeat 0: ``seed``)."""
    if repeat == 0:
        return seed
    state = np.random.SeedSequence([seed % 2**63, repeat]).generate_state(1)[0]
    return int(state)  # < 2**32: a valid seed of torch, NumPy and scikit-learn alike


def check_repeats(config: Any) -> None:
    """Refuse, before any work, a run whose repeats' folder would shadow a method's."""
    if config.repeat > 1 and any(e.name == RunDirectory.REPEATS_FOLDER for e in config.methods):
        raise UserError(f"methods: a method named '{RunDirectory.REPEATS_FOLDER}' cannot be "
                        "repeated (the run directory's folder of repeated trainings); rename it")


def reseeded(entry: Any, seed: int) -> Any:
    """Method entry ``entry`` trained with ``seed``: ``train.seed`` of a network, else its ``seed`` param."""
    if entry.is_network:
        return entry.model_copy(update={"train": {**entry.train, "seed": seed}})
    if "seed" in entry.params:
        return entry.model_copy(update={"params": {**entry.params, "seed": seed}})
    return entry


def repeat_directory(run_dir: RunDirectory, repeat: int) -> RunDirectory:
    """The folder that holds repeat ``repeat``'s method folders (the run directory itself for 0)."""
    if repeat == 0:
        return run_dir
    return RunDirectory(run_dir.path / RunDirectory.REPEATS_FOLDER / str(repeat), run_dir.writer)


def run_repeats(prepared: Any, run_dir: RunDirectory, first: dict[str, Any], callbacks: list | None,
                resuming: bool, say, module: Any) -> dict[str, Any] | None:
    """Train repeats 1 .. N-1 of every method, write and return ``repeats.json`` (None for N = 1).

    ``first`` holds repeat 0's :class:`quanta.experiment.MethodResult` per method.
    """
    from quanta.experiment import run_method

    config = prepared.config
    if config.repeat == 1:
        return None
    check_repeats(config)
    results = {name: [result.metrics] for name, result in first.items()}
    for repeat in range(1, config.repeat):
        seed = repeat_seed(config.seed, repeat)
        say(f"repeat {repeat} of {config.repeat - 1}: every method with seed {seed}")
        folder = repeat_directory(run_dir, repeat)
        for entry in config.methods:
            done = run_method(prepared, reseeded(entry, seed), folder, callbacks or [], resuming, say,
                              module)
            results[entry.name].append(done.metrics)
    record = spread(results, [repeat_seed(config.seed, r) for r in range(config.repeat)])
    run_dir.write_repeats(record)
    say(spread_table(record))
    return record


def spread(per_repeat: dict[str, list[dict[str, dict[str, float]]]], seeds: list[int]) -> dict[str, Any]:
    """``repeats.json``: per method, split and metric the values of every repeat, mean and std.

    A metric missing or not finite in some repeat is left out of that method's split. A
    background rejection that is a lower limit in some repeat (no background passed) keeps the
    flag of each repeat as ``lower_limits`` instead of a ``<metric>_lower_limit`` entry.
    """
    methods = {}
    for name, runs in per_repeat.items():
        splits: dict[str, dict[str, Any]] = {}
        for split in dict.fromkeys(s for metrics in runs for s in metrics):
            keys = dict.fromkeys(k for metrics in runs for k in metrics.get(split, {}))
            values = {key: [metrics.get(split, {}).get(key) for metrics in runs] for key in keys}
            splits[split] = {
                key: {"values": [float(v) for v in found], "mean": float(np.mean(found)),
                      "std": float(np.std(found, ddof=DDOF))}
                for key, found in values.items()
                if not key.endswith(LIMIT) and all(isinstance(v, (int, float)) and math.isfinite(v)
                                                   for v in found)}
            for key, entry in splits[split].items():
                flags = [bool(flag) for flag in values.get(key + LIMIT, [])]
                if any(flags):
                    entry["lower_limits"] = flags
        methods[name] = {"folders": [name] + [f"{RunDirectory.REPEATS_FOLDER}/{r}/{name}"
                                              for r in range(1, len(runs))],
                         "metrics": splits}
    return {"repeat": len(seeds), "seeds": seeds, "ddof": DDOF, "methods": methods}


def spread_table(record: dict[str, Any], split: str = "test") -> str:
    """A plain-text table of ``split``'s metrics over the repeats: mean ± std per method."""
    from quanta.evaluate import COMPANIONS
    from quanta.report.repeats_section import spread_text

    rows = [(name, method["metrics"].get(split, {})) for name, method in record["methods"].items()]
    first = list(dict.fromkeys(key for _, values in rows for key in values))
    keys = [k for k in first if not any(k.endswith(s) and k.removesuffix(s) in first for s in COMPANIONS)]
    width = max([len(n) for n, _ in rows] + [6])
    texts = {name: {k: spread_text(values[k]) if k in values else "-" for k in keys}
             for name, values in rows}
    # every column as wide as its longest cell, and two spaces apart
    columns = {key: 2 + max([len(key), 18, *(len(t[key]) for t in texts.values())]) for key in keys}
    lines = [f"{split} metrics over {record['repeat']} trainings (mean ± std; seeds "
             + ", ".join(str(s) for s in record["seeds"]) + "):",
             "  " + "method".ljust(width) + "".join(k.rjust(columns[k]) for k in keys)]
    for name, _ in rows:
        lines.append("  " + name.ljust(width) + "".join(texts[name][k].rjust(columns[k]) for k in keys))
    return "\n".join(lines)


__all__ = ["DDOF", "check_repeats", "repeat_directory", "repeat_seed", "reseeded", "run_repeats",
           "spread", "spread_table"]
