"""Names, paths and a run directory held by one process (issue 11): one-line errors before any work."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml

from quanta.rundir import RunDirectory
from tests.conftest import quanta_here, run_quanta
from tests.data.test_files import write


def user_error(done, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr


def files_experiment(tmp_path, **changes) -> str:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 400)
    path = write({"a": rng.normal(label, 1.0), "b": rng.normal(0, 1, 400), "label": label}, tmp_path / "d.parquet")
    config = {"name": "paths", "data": {"source": "files", "paths": [path], "label": "label"},
              "methods": [{"name": "lr", "method": "logistic_regression"},
                          {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 20}}], **changes}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    return path


def test_a_long_name_is_refused_before_any_work(tmp_path):
    files_experiment(tmp_path, name="x" * 300)
    user_error(quanta_here("run", "e.yaml", cwd=tmp_path),
               "name: string should have at most 100 characters, received 'xxxx")
    done = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert "(302 characters)" in done.stderr and len(done.stderr) < 400  # the value is cut, not echoed whole
    config = yaml.safe_load((tmp_path / "e.yaml").read_text())
    config["name"] = "paths"
    config["methods"][1]["name"] = "m" * 300
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    user_error(quanta_here("run", "e.yaml", cwd=tmp_path), "methods[1].name: string should have at most 100")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("out", ["notes.txt", "notes.txt/below"])
def test_an_out_that_is_a_file_is_refused_and_left_alone(tmp_path, out):
    files_experiment(tmp_path)
    (tmp_path / "notes.txt").write_text("my notes\n")
    user_error(quanta_here("run", "e.yaml", "--out", out, cwd=tmp_path),
               f"output (--out) {out}/paths: notes.txt is a file, not a folder; give a folder")
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("finished")
    data = files_experiment(tmp_path)
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path, next((tmp_path / "runs" / "paths").iterdir()), data


def test_predict_never_overwrites_its_input(finished):
    tmp_path, run, data = finished
    before = (tmp_path / "d.parquet").read_bytes()
    user_error(quanta_here("predict", str(run), data, "--out", data, cwd=tmp_path),
               f"--out {data}: is one of the input files; scores are written to a new file")
    assert (tmp_path / "d.parquet").read_bytes() == before


def test_predict_refuses_a_method_name_that_leaves_the_run(finished, tmp_path):
    source, run, data = finished
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(run, copy)
    (copy / "manifest.json").unlink()  # a run directory made by hand: only the name check stands
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["methods"][0]["name"] = "../victim/lr"
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    user_error(quanta_here("predict", str(copy), data, "--out", "s.parquet", cwd=tmp_path),
               "method name '../victim/lr' cannot name a folder")
    assert not (tmp_path / "s.parquet").exists()


def test_a_run_directory_in_use_is_refused_naming_its_holder(finished):
    tmp_path, run, _ = finished
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    with RunDirectory(run).lock():
        user_error(run_quanta("run", "--resume", str(run), cwd=tmp_path),
                   f"{run}: in use by another quanta process (pid {os.getpid()}); wait for it to finish or stop it")
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.name != RunDirectory.LOCK} == \
        {p: t for p, t in before.items() if p.name != RunDirectory.LOCK}
    done = quanta_here("run", "--resume", str(run), cwd=tmp_path)  # released: the resume keeps both methods
    assert done.returncode == 0 and "finished in the earlier run, kept" in done.stdout


def test_a_diverging_network_stops_naming_itself_and_saves_no_nan_weights(tmp_path):
    files_experiment(tmp_path)
    config = yaml.safe_load((tmp_path / "e.yaml").read_text())
    config["methods"] = [{"name": "mlp", "model": "mlp", "train": {"lr": 1e30, "optimizer": "momentum",
                                                                  "epochs": 3, "progress": False}}]
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    user_error(done, "mlp: training diverged in epoch 1 (the training loss is nan); try a smaller lr "
                     "(it was 1e+30), clip_grad_norm, or check the inputs for extreme values")
    (run,) = (tmp_path / "runs" / "paths").iterdir()
    assert not (run / "mlp" / "model.safetensors").exists()
    assert not (run / "mlp" / "checkpoint.safetensors").exists()


def test_resuming_a_run_killed_before_it_began_says_so(tmp_path):
    run = tmp_path / "runs" / "paths" / "20261203-120000"
    run.mkdir(parents=True)
    (run / ".lock").write_text("123\n")  # all a kill right after creating the folder leaves
    user_error(quanta_here("run", "--resume", str(run), cwd=tmp_path),
               f"{run}: a run stopped before it began (it holds no config.yaml); nothing to resume: "
               "run the experiment again")
