"""Killed at random moments and resumed, a run ends bit-for-bit where an uninterrupted one does (issue 11).

A small experiment (simulated data, boosted trees, a logistic regression and
an MLP that stops early) is run once whole. Then, at seeded moments spread
over its whole duration (data generation, rounds, epochs, checkpoint writes,
between methods, the early-stopping epoch, the report), a fresh run is sent
SIGKILL, SIGTERM or SIGINT, resumed with ``quanta run --resume`` until it
finishes, and every prediction, metric and history record (timings aside) is
compared with the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TRIALS = 24
EXPERIMENT = """\
name: kill
seed: 3
task: binary
data: {source: pulses, size: 3000}
methods:
  - {name: bdt, method: boosted_trees, params: {n_estimators: 60, max_depth: 3}}
  - {name: lr, method: logistic_regression}
  - name: mlp
    model: mlp
    params: {hidden: [32, 32]}
    train: {epochs: 40, batch_size: 64, lr: 0.003, patience: 3, schedule: cosine}
"""
TIMINGS = ("seconds", "train_seconds", "samples_per_second")


def quanta(*args: str, cwd) -> subprocess.Popen:
    environment = {**os.environ, "QUANTA_CACHE": str(cwd / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "quanta.cli", *args], cwd=cwd, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finished(*args: str, cwd) -> str:
    process = quanta(*args, cwd=cwd)
    _, errors = process.communicate(timeout=600)
    assert process.returncode == 0 or "a run stopped before it began" in errors, errors
    return errors


def outcome(run) -> dict:
    """Everything a run computed, timings left out."""
    result = {}
    for folder in sorted(p for p in run.iterdir() if (p / "predictions.npz").exists()):  # methods
        with np.load(folder / "predictions.npz") as archive:
            result[f"{folder.name}/predictions"] = {k: archive[k].tobytes() for k in archive.files}
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics.pop("seconds")
        result[f"{folder.name}/metrics"] = metrics
        history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
        result[f"{folder.name}/history"] = [{k: v for k, v in r.items() if k not in TIMINGS} for r in history]
    return result


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("whole")
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    started = time.perf_counter()
    finished("run", "e.yaml", "--out", "out", cwd=tmp_path)
    seconds = time.perf_counter() - started
    (run,) = (tmp_path / "out" / "kill").iterdir()
    result = outcome(run)
    assert len(result["mlp/history"]) < 40  # early stopping fires: its epoch is among the moments
    return result, seconds


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_killed_run_resumes_to_the_same_result(whole, tmp_path, trial):
    expected, seconds = whole
    rng = np.random.default_rng(trial)
    sent = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT][trial % 3]
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    process = quanta("run", "e.yaml", "--out", "out", cwd=tmp_path)
    time.sleep(rng.uniform(0.05, 1.0) * seconds)
    process.send_signal(sent)
    _, errors = process.communicate(timeout=600)
    assert "Traceback" not in errors, errors
    runs = list((tmp_path / "out" / "kill").iterdir()) if (tmp_path / "out" / "kill").exists() else []
    if not runs:  # killed before the run directory existed: nothing to resume, run again
        finished("run", "e.yaml", "--out", "out", cwd=tmp_path)
        runs = list((tmp_path / "out" / "kill").iterdir())
    elif process.returncode != 0 and "stopped before it began" in finished("run", "--resume", str(runs[0]),
                                                                          cwd=tmp_path):
        shutil.rmtree(runs[0])  # killed between creating the folder and writing config.yaml: start again
        finished("run", "e.yaml", "--out", "out", cwd=tmp_path)
        runs = list((tmp_path / "out" / "kill").iterdir())
    (run,) = runs
    assert outcome(run) == expected
