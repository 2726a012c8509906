"""Tuning throughput of quanta tune: trials per hour of one small search with 1 and 2 worker
processes on one machine (SQLite study), and their ratio.

The search: an MLP on 50,000 in-memory events of 30 variables (the data of train_throughput.py),
10 epochs a trial, random sampling of the learning rate, width and dropout, no pruning, so that
every trial does the same work whatever the worker count. Each configuration is the command a
user types,

    quanta tune tune.yaml --trials T --jobs N --out DIR

and trials/hour is counted from the study itself (Optuna's start and completion times of its
trials: the first start to the last completion), so the data preparation before the first
trial and the retraining of the best configuration after the last are left out; the whole
command's wall time is printed beside it. quanta tune gives each of N workers cores // N
torch threads; one worker keeps torch's default (every core). Usage:

    python benchmarks/tune_throughput.py [--trials 12] [--jobs 1 2] [--samples 50000] [--epochs 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from events import FEATURES, write_data  # benchmarks/events.py

NAME = "tune-throughput"


def write_experiment(path: Path, data: Path, names: list[str], epochs: int) -> None:
    experiment = {
        "name": NAME,
        "task": "binary",
        "device": "cpu",
        "data": {
            "source": "files",
            "paths": [str(data)],
            "features": names,
            "label": "label",
            "split": [0.6, 0.2, 0.2],
        },
        "methods": [
            {
                "name": "mlp",
                "model": "mlp",
                "params": {"hidden": [64], "dropout": 0.0},
                "train": {
                    "epochs": epochs,
                    "batch_size": 256,
                    "lr": 1e-3,
                    "patience": 0,
                    "progress": False,
                },
            }
        ],
        "importance": {"repeats": 0},
        "search": {
            "sampler": "random",
            "objective": "auc",
            "pruner": "none",
            "space": {
                "methods.mlp.train.lr": {"float": [1e-4, 1e-2], "log": True},
                "methods.mlp.params.hidden": {"layers": [1, 2], "width": {"int": [16, 64]}},
                "methods.mlp.params.dropout": {"float": [0.0, 0.3]},
            },
        },
    }
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))


def command(experiment: Path, trials: int, jobs: int, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "quanta",
        "tune",
        str(experiment),
        "--trials",
        str(trials),
        "--jobs",
        str(jobs),
        "--out",
        str(out),
    ]


def measure(experiment: Path, trials: int, jobs: int, out: Path) -> tuple[float, int, float]:
    """(trials per hour between the first start and the last completion, trials done, wall s)."""
    import optuna

    start = time.perf_counter()
    done = subprocess.run(command(experiment, trials, jobs, out), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(command(experiment, trials, jobs, out))} failed ({done.returncode}):\n"
            f"{done.stderr[-3000:]}"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{out / f'{NAME}-tune' / 'study.db'}"
    finished = [
        t
        for t in optuna.load_study(study_name=NAME, storage=storage).trials
        if t.datetime_complete is not None and t.state.is_finished()
    ]
    span = max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)
    return len(finished) / span.total_seconds() * 3600, len(finished), wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    import torch

    print(
        f"quanta tune: MLP on {args.samples:,} events x {FEATURES} variables, {args.epochs} "
        f"epochs a trial, random sampler, no pruning, {args.trials} trials, SQLite, "
        f"{os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        names = write_data(folder / "events.npz", args.samples)
        experiment = folder / "tune.yaml"
        write_experiment(experiment, folder / "events.npz", names, args.epochs)
        shown = " ".join(command(experiment, args.trials, 2, Path("DIR"))[3:])
        print(f"command: quanta {shown}   (--jobs N)\n")
        rates = {}
        for jobs in args.jobs:
            rate, trials, wall = measure(experiment, args.trials, jobs, folder / f"out-{jobs}")
            rates[jobs] = rate
            print(
                f"  --jobs {jobs}   {rate:8,.0f} trials/hour   "
                f"({trials} trials; command {wall:6.1f} s)"
            )
        if 1 in rates:
            for jobs, rate in rates.items():
                if jobs != 1:
                    print(f"  --jobs {jobs} / --jobs 1 = {rate / rates[1]:.2f}")


if __name__ == "__main__":
    main()
