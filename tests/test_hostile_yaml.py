"""Hostile YAML (issue 11): alias bombs, self-reference and deep nesting are refused in one line."""

from __future__ import annotations

import time

import pytest

from quanta.config import ALIAS_VALUES
from tests.conftest import quanta_here as run_quanta
from tests.test_paths_and_locks import files_experiment, user_error

BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
"""Nine to the ninth values (387 million) from nine lines: the "billion laughs"."""
ANCHORS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + BOMB
TOO_MANY = f"YAML aliases expand to more than {ALIAS_VALUES} values beyond those written"

# every place of an experiment the bomb was planted in, and how it reads there
PLACES = {
    "seed": "seed: *l8\n",
    "name": "name: *l8\n",
    "task": "task: *l8\n",
    "data.features": "data: {source: files, paths: [d.parquet], label: label, features: *l8}\n",
    "data.selection": "data: {source: files, paths: [d.parquet], label: label, selection: *l8}\n",
    "methods[].params": "methods: [{name: lr, method: logistic_regression, params: *l8}]\n",
    "methods[].train": "methods: [{name: mlp, method: network, model: mlp, train: *l8}]\n",
}


@pytest.mark.parametrize("place", list(PLACES))
def test_an_alias_bomb_is_refused_at_once(tmp_path, place):
    (tmp_path / "bomb.yaml").write_text(ANCHORS + PLACES[place])
    started = time.perf_counter()
    done = run_quanta("run", "bomb.yaml", cwd=tmp_path)
    user_error(done, f"bomb.yaml: {TOO_MANY} (from line ")
    assert time.perf_counter() - started < 60 and len(done.stderr) < 300
    assert not (tmp_path / "runs").exists()


def test_aliases_within_the_bound_still_work(tmp_path):
    files_experiment(tmp_path)
    text = (tmp_path / "e.yaml").read_text()
    (tmp_path / "e.yaml").write_text("shared: &few {n_estimators: 5}\n" + text.replace(
        "params:\n    n_estimators: 20", "params: *few"))
    assert "params: *few" in (tmp_path / "e.yaml").read_text()
    done = run_quanta("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "shared" in done.stderr  # an unknown top-level key, named as usual
    (tmp_path / "e.yaml").write_text(text.replace("name: paths", "name: &n paths\noutput: *n"))
    done = run_quanta("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "paths").iterdir())) == 1  # output: *n gave the folder "paths"


@pytest.mark.parametrize(("text", "message"), [
    ("name: &me [a, *me]\n", "a YAML alias refers to the anchor that contains it (line 1); "
                             "an experiment cannot contain itself"),
    ("name: " + "[" * 3000 + "]" * 3000 + "\n", "YAML nested too deeply to read"),
])
def test_self_reference_and_deep_nesting_are_refused(tmp_path, text, message):
    (tmp_path / "odd.yaml").write_text(text)
    user_error(run_quanta("run", "odd.yaml", cwd=tmp_path), f"odd.yaml: {message}")


@pytest.mark.parametrize("command", [("report",), ("run", "--resume")])
def test_a_bomb_in_a_runs_config_is_refused_by_report_and_resume(tmp_path, command):
    files_experiment(tmp_path, methods=[{"name": "lr", "method": "logistic_regression"}])
    assert run_quanta("run", "e.yaml", "--out", "out", cwd=tmp_path).returncode == 0
    (run,) = (tmp_path / "out" / "paths").iterdir()
    (run / "config.yaml").write_text(ANCHORS + "name: *l8\n")
    done = run_quanta(*command, str(run), cwd=tmp_path)
    user_error(done, f"{run / 'config.yaml'}: changed since quanta wrote it")  # the manifest sees the edit
    (run / "manifest.json").unlink()  # a run directory made by hand: the YAML reader itself must hold
    report = (run / "report.html").read_bytes()
    done = run_quanta(*command, str(run), cwd=tmp_path)
    user_error(done, f"{run / 'config.yaml'}: {TOO_MANY}")
    assert (run / "report.html").read_bytes() == report
