"""``quanta run EXPERIMENT --run-dir DIR``: one fixed run directory that a requeued batch job's
repeated command creates, continues, or keeps, and refuses when it holds another experiment."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
import yaml

import quanta
from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.experiment import run_experiment
from quanta.rundir import RunDirectory
from quanta.train.callbacks import Callback, StopAfter
from quanta.train.checkpoint import load_checkpoint
from quanta.train.loop import Trainer, TrainingInterrupted
from quanta.train.preemption import Preempted
from tests.conftest import quanta_here, xor_clouds

pytestmark = pytest.mark.usefixtures("one_thread")


@quanta.data.register("xor_run_dir_test")
def xor_source(size: int = 400, seed: int = 1):
    """XOR clouds (test source)."""
    x, y = xor_clouds(size, seed)
    return from_arrays(x, y, name="xor")


EXPERIMENT = {"name": "fixed", "task": "binary", "data": {"source": "xor_run_dir_test"},
              "importance": {"repeats": 0},
              "methods": [{"name": "lr", "method": "logistic_regression"},
                          {"name": "net", "model": "mlp", "params": {"hidden": [8], "dropout": 0.1},
                           "train": {"epochs": 4, "patience": 0, "progress": False}}]}


def written(tmp_path, experiment=EXPERIMENT, name="e.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(experiment))
    return path


def modified(folder):
    """When each file of a run directory was last written (the lock file, which names its holder, aside)."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file() and p.name != RunDirectory.LOCK}


def test_an_absent_folder_is_created_and_a_finished_run_is_kept(tmp_path, capsys):
    folder = tmp_path / "jobs" / "run-1"
    run = run_experiment(written(tmp_path), run_dir=folder, report=False, verbose=False)
    assert run.directory == folder and (folder / "net" / "metrics.json").is_file()
    stamps = modified(folder)
    again = run_experiment(written(tmp_path), run_dir=folder, report=False)
    assert "finished there already; nothing retrained" in capsys.readouterr().out
    assert again.metrics == run.metrics
    assert modified(folder) == stamps  # nothing rewritten


def test_an_interrupted_run_continues_as_resume_does(tmp_path):
    full = run_experiment(written(tmp_path), run_dir=tmp_path / "full", report=False, verbose=False)
    with pytest.raises(TrainingInterrupted):
        run_experiment(written(tmp_path), run_dir=tmp_path / "cut", report=False, verbose=False,
                       callbacks=[StopAfter(2)])
    assert not (tmp_path / "cut" / "net" / "metrics.json").exists()
    resumed = run_experiment(written(tmp_path), run_dir=tmp_path / "cut", report=False, verbose=False)
    assert resumed.metrics == full.metrics
    a, _ = load_checkpoint(tmp_path / "full" / "net" / "model.safetensors")
    b, _ = load_checkpoint(tmp_path / "cut" / "net" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with np.load(tmp_path / "full" / "net" / "predictions.npz") as x, \
            np.load(tmp_path / "cut" / "net" / "predictions.npz") as y:
        assert all(np.array_equal(x[k], y[k]) for k in x.files)


def test_another_config_in_the_folder_is_a_one_line_error(tmp_path):
    folder = tmp_path / "run"
    run_experiment(written(tmp_path), run_dir=folder, report=False, verbose=False)
    other = json.loads(json.dumps(EXPERIMENT))
    other["methods"][1]["train"]["epochs"] = 5
    done = quanta_here("run", str(written(tmp_path, other, "other.yaml")), "--run-dir", str(folder),
                       cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1
    assert str(folder) in message and "methods[1].train.epochs is 4 there, 5 now" in message
    done = quanta_here("run", str(written(tmp_path)), "--run-dir", str(folder), "--seed", "7", cwd=tmp_path)
    assert done.returncode == 2 and "seed is 1 there, 7 now" in done.stderr


def test_a_folder_of_other_files_and_a_held_folder_are_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    done = quanta_here("run", str(written(tmp_path)), "--run-dir", "notes", cwd=tmp_path)
    assert done.returncode == 2 and "neither empty nor a quanta run directory (it holds todo.txt" in done.stderr
    (tmp_path / "busy").mkdir()
    with RunDirectory(tmp_path / "busy").lock():  # another process trains there
        done = quanta_here("run", str(written(tmp_path)), "--run-dir", "busy", cwd=tmp_path)
    assert done.returncode == 2 and "in use by another quanta process" in done.stderr
    assert not (tmp_path / "busy" / "config.yaml").exists()
    with pytest.raises(UserError, match="not both"):
        run_experiment(EXPERIMENT, run_dir=tmp_path / "x", resume=tmp_path / "busy")


class TermAtClassicalStart(Callback):
    """Sends SIGTERM to this process as a classical method starts fitting (a batch system's warning)."""

    def on_fit_start(self, trainer):
        if not isinstance(trainer, Trainer):
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_classical_method_preempted_while_fitting_is_redone_exactly(tmp_path):
    full = run_experiment(written(tmp_path), run_dir=tmp_path / "full", report=False, verbose=False)
    with pytest.raises(Preempted) as stop:
        run_experiment(written(tmp_path), run_dir=tmp_path / "cut", report=False, verbose=False,
                       callbacks=[TermAtClassicalStart()])
    assert stop.value.signal == "SIGTERM" and stop.value.run_dir == tmp_path / "cut"
    assert not (tmp_path / "cut" / "lr" / "metrics.json").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back
    resumed = run_experiment(written(tmp_path), run_dir=tmp_path / "cut", report=False, verbose=False)
    assert resumed.metrics == full.metrics
