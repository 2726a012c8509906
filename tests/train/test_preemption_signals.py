"""A real ``quanta run --run-dir`` process pre-empted by SIGTERM or SIGUSR1 inside an epoch saves
its place and exits with status 85; the same command run again ends bit for bit where an
uninterrupted run does (predictions, weights, history, metrics; timings aside).

Slow (about 100 s on two shared cores): three processes per signal, each importing torch and
writing a report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from quanta.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

EXPERIMENT = """\
name: preempt
seed: 5
task: binary
data: {source: pulses, size: 6000}
importance: {repeats: 0}
methods:
  - {name: lr, method: logistic_regression}
  - name: mlp
    model: mlp
    params: {hidden: [32, 32], dropout: 0.1}
    train: {epochs: 3, batch_size: 8, lr: 0.002, patience: 0, schedule: cosine,
            augment: [{name: jitter, sigma: 0.05}]}
"""
TIMINGS = ("seconds", "train_seconds", "samples_per_second")


def quanta(*args: str, cwd, cache) -> subprocess.Popen:
    environment = {**os.environ, "QUANTA_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "quanta.cli", *args], cwd=cwd, env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finished(*args: str, cwd, cache) -> str:
    process = quanta(*args, cwd=cwd, cache=cache)
    _, errors = process.communicate(timeout=600)
    assert process.returncode == 0, errors
    return errors


def outcome(run) -> dict:
    """Everything a run computed, timings left out."""
    result = {}
    for name in ("lr", "mlp"):
        folder = run / name
        with np.load(folder / "predictions.npz") as archive:
            result[f"{name}/predictions"] = {k: archive[k].tobytes() for k in archive.files}
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics.pop("seconds")
        result[f"{name}/metrics"] = metrics
        history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
        result[f"{name}/history"] = [{k: v for k, v in r.items() if k not in TIMINGS} for r in history]
    tensors, _ = load_checkpoint(run / "mlp" / "model.safetensors")
    result["mlp/weights"] = {k: v.numpy().tobytes() for k, v in tensors.items()}
    return result


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("whole")
    cache = tmp_path_factory.mktemp("cache")
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    finished("run", "e.yaml", "--run-dir", "run", cwd=tmp_path, cache=cache)
    result = outcome(tmp_path / "run")
    assert len(result["mlp/history"]) == 3
    return result, cache


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_a_run_preempted_mid_epoch_and_requeued_ends_bit_for_bit(whole, tmp_path, sent):
    expected, cache = whole
    (tmp_path / "e.yaml").write_text(EXPERIMENT)
    process = quanta("run", "e.yaml", "--run-dir", "run", cwd=tmp_path, cache=cache)
    history = tmp_path / "run" / "mlp" / "history.jsonl"
    deadline = time.monotonic() + 300
    while not (history.is_file() and history.read_text().strip()):  # the first epoch is done
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.02)
    epoch_seconds = json.loads(history.read_text().splitlines()[0])["train_seconds"]
    time.sleep(0.3 * epoch_seconds)  # some batches into the second epoch
    process.send_signal(sent)
    time.sleep(0.01)
    process.send_signal(sent)  # a second warning, while the checkpoint is written
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 85, errors
    assert "Traceback" not in errors
    assert f"pre-empted by {signal.Signals(sent).name}: mlp saved its place (epoch 2, batch " in errors
    assert "requeue with: quanta run e.yaml --run-dir run" in errors
    _, meta = load_checkpoint(tmp_path / "run" / "mlp" / "checkpoint.safetensors")
    assert meta["epoch"] == 1 and meta["position"]["epoch"] == 2 and meta["position"]["batches"] > 0
    assert (tmp_path / "run" / "lr" / "metrics.json").is_file()  # the finished method is kept
    finished("run", "e.yaml", "--run-dir", "run", cwd=tmp_path, cache=cache)
    assert outcome(tmp_path / "run") == expected
