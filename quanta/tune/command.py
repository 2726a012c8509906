"""`quanta tune EXPERIMENT.yaml` and ``quanta.tune(...)``: a hyperparameter search with Optuna.

The study folder ``<out>/<experiment name>-tune/`` holds ``search.json``, ``study.db`` (the
default SQLite storage), ``trials.json``, ``trials/<number>/<method>/`` (each trial's fits),
``best.yaml``, ``best/`` (the retrained best configuration, the only run that scores the test
split) and ``report.html``. ``--jobs N`` starts N worker processes on this machine, each with
``cores // N`` torch threads; ``--worker`` only runs trials of the study (another machine's
worker, with ``--storage postgresql://...``). The same command after a crash continues the
study: finished trials are kept, a dead worker's trial is retried (the heartbeat).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanta.errors import UserError

STUDY_SUFFIX = "-tune"


@dataclass
class TuneResult:
    """A finished search.

    Attributes:
        folder: the study folder.
        study_name: the study's name in its storage.
        best_params: the best trial's Optuna parameters (``{parameter: value}``).
        best_values: its objective values on the validation split.
        best_run: the run directory of the retrained best configuration (None for a worker).
        trials: every trial, as trials.json holds them.
        test_metrics: ``{method: {metric: value}}`` of the retrained run's test split.
    """

    folder: Path
    study_name: str
    best_params: dict[str, Any]
    best_values: list[float]
    best_run: Path | None
    trials: list[dict[str, Any]]
    test_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def validated(raw: dict[str, Any], sampler: str | None = None, trials: int | None = None):
    """``(config, search)`` of a raw experiment: the experiment resolved without its search block,
    the search block validated, and every parameter's extreme values resolved once, so that a
    value the experiment refuses is named before any trial runs."""
    from quanta.config import resolve
    from quanta.tasks import TASKS
    from quanta.tune.space import applied, read_search

    if "search" not in raw:
        raise UserError("search: the experiment has no search: block; add one with a space: of "
                        "parameters (see examples/tune_mlp.yaml)")
    config = resolve(applied(raw, {}))
    task = TASKS.create(config.task, where="task_params", **config.task_params)
    search = read_search(raw["search"], config.model_dump(), task, sampler, trials)
    for parameter in search.parameters:
        conditions = {path: values[0] for path, values in parameter.when.items()}
        for value in _extremes(parameter):
            try:
                resolve(applied(raw, {**conditions, parameter.path: value}))
            except UserError as error:
                raise UserError(f"search.space.{parameter.path}: the value {value!r} is refused: "
                                f"{error}") from None
    return config, search


def _extremes(parameter) -> list[Any]:
    if parameter.kind == "choice":
        return list(parameter.choices)
    if parameter.kind == "layers":
        width = parameter.width
        ends = width.choices if width.kind == "choice" else [width.low, width.high]
        return [[ends[0]] * parameter.low, [ends[-1]] * parameter.high]
    return [parameter.low, parameter.high]


def work(plan) -> int:
    """One worker process's trials (the entry point of ``--jobs`` processes)."""
    from quanta.tune.study import run_trials

    config, search = validated(plan.raw, plan.sampler, plan.trials)
    return run_trials(plan, plan.raw, search, config, say=lambda line: print(line, flush=True))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_workers(plans: list) -> None:
    """Run the plans in spawned processes; a worker's error is raised here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(plans), mp_context=context) as pool:
        futures = [pool.submit(work, plan) for plan in plans]
        try:
            for future in futures:
                future.result()
        except BrokenProcessPool:
            raise UserError("tune: a worker process died; run the same command again to continue "
                            "the study (its trial is retried)") from None


def tune(experiment: str | Path | dict[str, Any], *, trials: int | None = None, jobs: int = 1,
         storage: str | None = None, study: str | None = None, sampler: str | None = None,
         timeout: float | None = None, out: str | Path | None = None,
         worker: bool = False) -> TuneResult:
    """Search the hyperparameters of an experiment's ``search:`` block with Optuna.

    Args:
        experiment: an experiment YAML path or its raw mapping, with a ``search:`` block.
        trials: finished trials (complete or pruned) the study should hold (``search.trials``).
        jobs: worker processes on this machine (1: trials run in this process).
        storage: the study's database URL (None: SQLite ``study.db`` in the study folder;
            ``postgresql://...`` for workers on many machines).
        study: the study's name (default: the experiment's name).
        sampler: grid, random, tpe or gp (overrides ``search.sampler``).
        timeout: seconds after which no trial is started.
        out: parent of the study folder (default: the experiment's ``output``).
        worker: only run trials: no best.yaml, no retraining, no report.
    """
    from quanta.experiment import load_config
    from quanta.report.search_report import write_search_report
    from quanta.rundir import RunDirectory
    from quanta.tune.best import best_trial, retrain, write_best
    from quanta.tune.records import trial_record, write_search, write_trials
    from quanta.tune.storage import public_url
    from quanta.tune.study import WorkerPlan, finished, open_study, quiet_optuna, run_trials

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UserError(f"--jobs: expected an integer >= 1, received {jobs!r}")
    if timeout is not None and not timeout > 0:
        raise UserError(f"--timeout: expected seconds > 0, received {timeout!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise UserError(f"--trials: expected an integer >= 1, received {trials!r}")
    raw = load_config(experiment)
    config, search = validated(raw, sampler, trials)
    folder = RunDirectory.check_parent(Path(out if out is not None else config.output), "--out")
    folder = folder / f"{config.name}{STUDY_SUFFIX}"
    study_name = study or config.name
    plan = WorkerPlan(raw, str(folder), storage, study_name, sampler, trials, timeout)
    quiet_optuna()
    folder.mkdir(parents=True, exist_ok=True)
    shown_storage = public_url(storage) if storage else str(folder / "study.db")
    source = None if isinstance(experiment, dict) else str(experiment)
    write_search(folder, search, study_name, shown_storage, source)
    opened = open_study(plan, search, config.seed)
    objectives = ", ".join(f"{o.metric} ({o.direction})" for o in search.objectives)
    print(f"study '{study_name}' in {shown_storage}: {finished(opened)} of {search.trials} trials "
          f"finished; sampler {search.sampler}, pruner {search.pruner}, objective {objectives} "
          f"of {search.method} on the validation split")
    if jobs == 1:
        run_trials(plan, raw, search, config)
    else:
        threads = max(1, _cores() // jobs)
        print(f"starting {jobs} worker processes, {threads} torch thread(s) each")
        _run_workers([WorkerPlan(raw, str(folder), storage, study_name, sampler, trials, timeout,
                                 index=i + 1, threads=threads) for i in range(jobs)])
    opened = open_study(plan, search, config.seed)
    write_trials(folder, opened, search, with_importances=True)
    records = [trial_record(t) for t in opened.get_trials(deepcopy=False)]
    best = best_trial(opened, search)
    if best is None:
        raise UserError(f"search: no trial of study '{study_name}' completed ({len(records)} "
                        f"tried); see the trial lines above")
    result = TuneResult(folder, study_name, dict(best.params), list(best.values), None, records)
    count = finished(opened)
    if count < search.trials:
        print(f"study stopped with {count} of {search.trials} trials finished (--timeout)")
    print(f"best trial {best.number}: " + ", ".join(
        f"{o.metric} {v:.6g}" for o, v in zip(search.objectives, best.values, strict=True)))
    if worker:
        return result
    best_path = write_best(folder, raw, search, best, study_name)
    print(f"best configuration: {best_path}")
    result.best_run, result.test_metrics = retrain(folder)
    report = write_search_report(folder)
    print(f"study folder: {folder}\nbest run: {result.best_run}"
          + f"\nreport: {report}")
    return result


def tune_command(args) -> int:
    """`quanta tune`: the command line's arguments to :func:`tune`; exit status 0."""
    tune(args.experiment, trials=args.trials, jobs=args.jobs, storage=args.storage,
         study=args.study, sampler=args.sampler, timeout=args.timeout, out=args.out,
         worker=args.worker)
    return 0


__all__ = ["STUDY_SUFFIX", "TuneResult", "tune", "tune_command", "validated", "work"]
