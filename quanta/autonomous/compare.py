"""Every strategy over every seed: the logs, two figures, and who reaches the target first.

:func:`compare_strategies` runs one campaign per (strategy, seed) into a
folder: ``measurements-<strategy>-seed<seed>.jsonl`` (the logs, each resumable),
``error.png`` and ``maps.png`` (:mod:`quanta.autonomous.figures`) and
``summary.json``: for the target map error, the measurements (and seconds of
beam time) each campaign needed to first reach it, their mean over seeds (a
campaign that never reached it counts as its whole budget, a lower bound, and
``reached`` says how many did), and the final map errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quanta.autonomous.campaign import Campaign, run_campaign
from quanta.autonomous.config import AutonomousConfig, autonomous_config
from quanta.errors import UserError

SUMMARY, ERROR_FIGURE, MAPS_FIGURE = "summary.json", "error.png", "maps.png"


@dataclass
class Comparison:
    """The campaigns (strategy -> one per seed, in the order of ``seeds``) and their summary."""

    campaigns: dict[str, list[Campaign]]
    summary: dict[str, Any]
    folder: Path | None


def log_name(strategy: str, seed: int) -> str:
    """The file name of one campaign's log."""
    return f"measurements-{strategy}-seed{seed}.jsonl"


def compare_strategies(config: AutonomousConfig | dict[str, Any] | None = None, *,
                       out: str | Path | None = None, resume: bool = False) -> Comparison:
    """Run every strategy of ``config`` over its seeds; write logs, figures and summary to ``out``.

    Args:
        config: the settings (an :class:`AutonomousConfig`, its mapping, or None for defaults).
        out: the folder (created); None writes nothing.
        resume: continue the campaigns whose logs ``out`` holds (the others start afresh).
    """
    config = autonomous_config(config)
    folder = None if out is None else Path(out)
    if folder is not None:
        for parent in (folder, *folder.parents):
            if parent.exists() and not parent.is_dir():
                raise UserError(f"--out: {parent} is a file, not a folder")
        if not resume:
            logs = [log_name(s, seed) for s in config.strategies for seed in config.seeds]
            taken = [name for name in (SUMMARY, *logs) if (folder / name).exists()]
            if taken:
                raise UserError(f"--out: {folder} already holds a comparison ({taken[0]}); "
                                "pass --resume to continue it, or choose another folder")
        folder.mkdir(parents=True, exist_ok=True)
    campaigns: dict[str, list[Campaign]] = {}
    for strategy in config.strategies:
        for seed in config.seeds:
            log = None if folder is None else folder / log_name(strategy, seed)
            again = resume and log is not None and log.exists()
            campaigns.setdefault(strategy, []).append(
                run_campaign(config, strategy=strategy, seed=seed, log=log, resume=again))
    summary = summarise(campaigns, config)
    if folder is not None:
        _write_outputs(folder, campaigns, summary, config)
    return Comparison(campaigns, summary, folder)


def summarise(campaigns: dict[str, list[Campaign]], config: AutonomousConfig) -> dict[str, Any]:
    """The summary: per strategy, measurements and seconds to the target, final errors."""
    target, budget = config.error.target_A, config.budget.measurements
    strategies = {}
    for strategy, runs in campaigns.items():
        counts = [run.measurements_to(target) for run in runs]
        seconds = [run.seconds_to(target) for run in runs]
        finals = [float(run.errors[-1, 2]) if len(run.errors) else None for run in runs]
        strategies[strategy] = {
            "measurements_to_target": counts,
            "mean_measurements_to_target": float(np.mean([budget if c is None else c
                                                          for c in counts])),
            "seconds_to_target": seconds,
            "reached": sum(c is not None for c in counts),
            "final_error_A": finals,
            "mean_final_error_A": float(np.mean([f for f in finals if f is not None] or [np.nan])),
            "measurements": [len(run.measurements) for run in runs],
            "beam_seconds": [run.measurements[-1].elapsed if run.measurements else 0.0
                             for run in runs],
            "failed": [run.failed for run in runs],
        }
    return {"target_A": target, "feature": config.feature, "reference": config.error.reference,
            "budget_measurements": budget, "budget_seconds": config.budget.seconds,
            "seeds": list(config.seeds), "strategies": strategies}


def summary_table(summary: dict[str, Any]) -> str:
    """A short text table: strategy, seeds reaching the target, mean measurements and seconds."""
    target = summary["target_A"]
    lines = [f"{'strategy':8}  {'reached':>7}  {f'measurements to {target:g} A':>24}  "
             f"{'beam s to target':>16}  {'final error (A)':>15}"]
    for strategy, row in summary["strategies"].items():
        reached, seeds = row["reached"], len(row["measurements_to_target"])
        bound = "" if reached == seeds else ">="
        seconds = [s for s in row["seconds_to_target"] if s is not None]
        lines.append(f"{strategy:8}  {f'{reached}/{seeds}':>7}  "
                     f"{bound + format(row['mean_measurements_to_target'], '.1f'):>24}  "
                     f"{format(np.mean(seconds), '.0f') if seconds else '-':>16}  "
                     f"{row['mean_final_error_A']:15.2f}")
    return "\n".join(lines)


def _write_outputs(folder: Path, campaigns: dict[str, list[Campaign]], summary: dict[str, Any],
                   config: AutonomousConfig) -> None:
    from quanta.autonomous.figures import error_figure, maps_figure

    label = "radius (A)" if config.error.reference == "radius" else f"{config.feature} (A)"
    error_figure(campaigns, config.error.target_A).savefig(folder / ERROR_FIGURE, dpi=100)
    first = {strategy: runs[0] for strategy, runs in campaigns.items()}
    maps_figure(first, label).savefig(folder / MAPS_FIGURE, dpi=90)
    (folder / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    import matplotlib.pyplot as plt

    plt.close("all")
