"""Workers share one study: `--jobs 2` records every trial exactly once, and a study whose worker
is killed mid-trial is completed by the same command, losing and repeating no finished trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]


def experiment(tmp_path: Path, trials: int, epochs: int) -> Path:
    config = {
        "name": "calib-mlp", "seed": 1, "task": "regression",
        "data": {"source": "energy_calibration", "size": 600},
        "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [16]},
                     "train": {"epochs": epochs, "batch_size": 32, "lr": 1e-4, "patience": 0}}],
        "importance": {"repeats": 0},
        "search": {"sampler": "random", "trials": trials, "objective": "mse", "pruner": "none",
                   "space": {"methods.mlp.train.lr": {"float": [1e-3, 3e-2], "log": True}}},
    }
    path = tmp_path / "calib.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def stored(folder: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(f"sqlite:///{folder / 'study.db'}")
    return optuna.load_study(study_name="calib-mlp", storage=storage).get_trials(deepcopy=False)


@pytest.mark.slow  # about 50 s on two busy cores: two interpreters start and import torch
def test_two_worker_processes_record_every_trial_once(tmp_path):
    path = experiment(tmp_path, trials=8, epochs=4)
    done = quanta_here("tune", str(path), "--out", "runs", "--jobs", "2", "--worker", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = stored(tmp_path / "runs" / "calib-mlp-tune")
    assert sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.name == "COMPLETE" for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2 and all(w.split(":")[1] != str(os.getpid()) for w in workers)


def _tune(path: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-m", "quanta.cli", "tune", str(path), "--out", "runs"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow  # about 150 s on two busy cores: the restarted command waits out the heartbeat's grace period
def test_a_study_killed_mid_trial_is_completed_by_the_same_command(tmp_path):
    path = experiment(tmp_path, trials=4, epochs=40)
    folder = tmp_path / "runs" / "calib-mlp-tune"
    process = _tune(path, tmp_path)
    deadline, before = time.monotonic() + 300, None
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        if not (folder / "study.db").exists():
            continue
        try:
            trials = stored(folder)
        except (KeyError, optuna.exceptions.StorageInternalError):  # not yet made, or being made
            continue
        running = [t for t in trials if t.state.name == "RUNNING" and t.number >= 1]
        if running and any(t.state.name == "COMPLETE" for t in trials):
            before = {t.number: t.values for t in trials if t.state.name == "COMPLETE"}
            killed = running[0].number
            os.kill(process.pid, signal.SIGKILL)  # mid-trial: no chance to tidy up
            break
    process.wait(timeout=60)
    assert before is not None, "no trial was caught running"
    assert stored(folder)[killed].state.name == "RUNNING"  # as the kill left it

    again = _tune(path, tmp_path)
    output, _ = again.communicate(timeout=600)
    assert again.returncode == 0, output
    trials = stored(folder)
    states = [t.state.name for t in trials]
    assert "RUNNING" not in states and "WAITING" not in states
    assert states.count("COMPLETE") == 4  # the budget: finished trials, none lost, none repeated
    assert trials[killed].state.name == "FAIL"  # the heartbeat stopped: failed, then retried
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == trials[killed].params
    for number, values in before.items():  # finished before the kill: kept as they were
        assert trials[number].values == values
    assert (folder / "best.yaml").exists() and "best run:" in output
