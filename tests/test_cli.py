"""The quanta command: listings, the default experiment, and user errors (exit 2, one line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from quanta.config import default_experiment_path
from tests.conftest import quanta_here, run_quanta

quanta = run_quanta


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


@pytest.mark.parametrize("command, expected", [
    ("models", "mlp"), ("methods", "boosted_trees"), ("tasks", "binary"), ("datasets", "jets")])
def test_listings(tmp_path, command, expected):
    done = quanta(command, cwd=tmp_path)
    assert done.returncode == 0 and expected in done.stdout


def small_default(tmp_path: Path, size: int = 400) -> Path:
    config = yaml.safe_load(default_experiment_path().read_text())
    config["data"]["size"] = size
    config["methods"][0]["params"]["n_estimators"] = 50
    config["methods"][1]["train"]["epochs"] = 3
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    done = quanta("run", str(small_default(folder)), "--out", "runs", cwd=folder)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (folder / "runs" / "top-tagging").iterdir()
    return folder, run_dir, done


def test_default_experiment_runs_and_reports_both_methods(finished_run):
    folder, run_dir, done = finished_run
    for name in ("config.yaml", "environment.json", "metrics.json", "report.html",
                 "bdt/predictions.npz", "mlp/history.jsonl", "mlp/model.safetensors"):
        assert (run_dir / name).exists(), name
    html = (run_dir / "report.html").read_text()
    assert "bdt" in html and "mlp" in html
    assert "test metrics" in done.stdout and "report:" in done.stdout


def test_report_regenerates(finished_run):
    folder, run_dir, _ = finished_run
    (run_dir / "report.html").unlink()
    done = quanta("report", str(run_dir), cwd=folder)
    assert done.returncode == 0 and (run_dir / "report.html").exists()


def user_error(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return str(path)


METHODS = "methods: [{name: m, model: mlp}]"


@pytest.mark.parametrize("text, message", [
    (f"task: binray\n{METHODS}", "task: unknown task 'binray'; did you mean 'binary'?"),
    ("methods: [{name: m, model: resnett}]", "methods[0].model: unknown model 'resnett'"),
    ("methods: [{name: m, method: svmm}]", "methods[0].method: unknown method 'svmm'"),
    (f"data: {{source: jest}}\n{METHODS}", "data.source: unknown data source 'jest'; did you mean 'jets'?"),
    ("methods: [{name: m, model: mlp, train: {epochs: many}}]", "methods[0].train.epochs: input should be a valid integer"),
    ("methods: [{name: m, model: mlp, train: {lr: -1}}]", "methods[0].train.lr: input should be greater than 0"),
    (f"colour: red\n{METHODS}", "unknown key 'colour'"),
    ("name: x\nmethods: [{name: m, model: mlp}\n", "malformed YAML"),
])
def test_config_errors(tmp_path, text, message):
    (tmp_path / "runs").mkdir()
    before = snapshot(tmp_path / "runs")
    user_error(quanta("run", write(tmp_path, text), "--out", "runs", cwd=tmp_path), message)
    assert snapshot(tmp_path / "runs") == before


def test_missing_file_and_bad_resume(tmp_path):
    user_error(quanta_here("run", "nope.yaml", cwd=tmp_path), "nope.yaml: experiment file not found")
    (tmp_path / "plain").mkdir()
    user_error(quanta_here("run", "--resume", "plain", cwd=tmp_path), "not a quanta run directory")
    user_error(quanta_here("run", "--resume", "absent", cwd=tmp_path), "no such run directory")
    user_error(quanta_here("report", "plain", cwd=tmp_path), "not a quanta run directory")
    user_error(quanta_here("run", write(tmp_path, "methods: [{name: m, model: mlp, train: {device: tpu}}]"), cwd=tmp_path),
               "methods[0].train.device: unknown device 'tpu'; allowed: auto, cpu, cuda, cuda:N")
    user_error(quanta("run", write(tmp_path, METHODS), "--device", "cuda:0", cwd=tmp_path,
                      env_extra={"CUDA_VISIBLE_DEVICES": ""}), "no CUDA GPU is available")
    assert not (tmp_path / "runs").exists()


def test_data_errors(tmp_path):
    """NaN inputs and labels that do not fit the task, from a user's NumPy file source."""
    import numpy as np

    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    x[4, 2] = np.inf
    np.savez(tmp_path / "bad.npz", x=x, y=np.arange(50) % 2)
    plugin = tmp_path / "plugin_source.py"
    plugin.write_text(
        "import numpy as np, quanta\nfrom quanta.data.dataset import Dataset\n"
        "@quanta.data.register('npz_test')\ndef npz_test(path: str = 'bad.npz', labels: int = 2):\n"
        "    '''A test source reading an npz file.'''\n"
        "    with np.load(path) as f:\n        return Dataset({'x': f['x'], 'y': f['y'] * (labels - 1)}, name=path)\n")
    runner = tmp_path / "run.py"
    runner.write_text("import sys, plugin_source\nfrom quanta.cli import main\nsys.exit(main(sys.argv[1:]))\n")

    def run(text: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(runner), "run", write(tmp_path, text), "--out", "runs"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    user_error(run("data: {source: npz_test}\nmethods: [{name: m, model: mlp}]"), "bad.npz: array 'x' has 0 NaN and 1 Inf")
    np.savez(tmp_path / "bad.npz", x=np.nan_to_num(x, posinf=0), y=np.arange(50) % 2)
    user_error(run("data: {source: npz_test, labels: 3}\nmethods: [{name: m, model: mlp}]"),
               "task 'binary' needs labels 0 and 1, received values [0, 2]")
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_saves_a_checkpoint_and_prints_the_resume_command(tmp_path):
    import signal
    import time

    runner = tmp_path / "run.py"
    runner.write_text(
        "import sys, numpy as np, quanta\nfrom quanta.data.dataset import from_arrays\n"
        "@quanta.data.register('blobs_test')\ndef blobs_test(size: int = 400, seed: int = 1):\n"
        "    '''Two Gaussian blobs (test source).'''\n"
        "    rng = np.random.default_rng(seed); y = rng.integers(0, 2, size)\n"
        "    return from_arrays(rng.normal(size=(size, 3)) + y[:, None], y)\n"
        "from quanta.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    experiment = write(tmp_path, "data: {source: blobs_test}\n"
                                 "methods: [{name: net, model: mlp, train: {epochs: 100000, patience: 0}}]")
    process = subprocess.Popen([sys.executable, str(runner), "run", experiment, "--out", "runs"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    history = None
    while time.monotonic() < deadline:
        found = list((tmp_path / "runs").glob("*/*/net/history.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            history = found[0]
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert history is not None
    assert process.returncode == 130, err
    assert "Traceback" not in err
    run_dir = history.parent.parent
    assert f"resume with: quanta run --resume runs/experiment/{run_dir.name}" in err
    assert (run_dir / "net" / "checkpoint.safetensors").exists()
