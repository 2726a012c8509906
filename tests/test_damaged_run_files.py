"""Damaged run files (issue 11): every one is a one-line error naming the file, never a traceback.

A run is trained once through the CLI; each test damages a copy the way a disk,
an editor or a crash would, then predicts, resumes or reports as a user does.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.conftest import quanta_here as run_quanta
from tests.test_paths_and_locks import files_experiment, user_error

DAMAGED = "damaged: its contents differ from what was written (SHA-256 mismatch)"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("trained")
    files_experiment(tmp_path, methods=[
        {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 10}},
        {"name": "mlp", "model": "mlp", "train": {"epochs": 3, "patience": 5}}])
    done = run_quanta("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "paths").iterdir()
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    shutil.copy(trained.parent.parent.parent / "d.parquet", tmp_path / "d.parquet")
    return copy


def flip(path, tensor: str, byte: int = 1) -> None:
    """Flip one bit inside the named tensor of a safetensors file."""
    payload = bytearray(path.read_bytes())
    size = int.from_bytes(payload[:8], "little")
    start = json.loads(payload[8:8 + size])[tensor]["data_offsets"][0] + 8 + size
    payload[start + byte] ^= 0x10
    path.write_bytes(bytes(payload))


def predict(run):
    return run_quanta("predict", str(run), "d.parquet", "--out", "p.parquet", cwd=run.parent)


def test_an_empty_boosted_trees_record_is_named_on_predict_and_resume(run):
    (run / "bdt" / "boosted_trees.meta.json").write_text("")
    message = (f"{run / 'bdt' / 'boosted_trees.meta.json'}: cannot read the saved boosted trees' "
               "record (Expecting value: line 1 column 1 (char 0))")
    user_error(predict(run), message)
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent), message)
    assert not (run.parent / "p.parquet").exists()
    (run / "bdt" / "boosted_trees.meta.json").write_text('{"task": "binary"}')
    user_error(predict(run), "boosted_trees.meta.json: cannot read the saved boosted trees' record "
                             "(missing key 'best_round')")


def test_an_edited_tree_is_refused(run):
    path = run / "bdt" / "boosted_trees.json"
    text = path.read_text()
    at = text.index('"base_weights":[') + len('"base_weights":[')
    path.write_text(text[:at] + "9" + text[at:])  # one more digit in a leaf weight: still valid JSON
    user_error(predict(run), f"{path}: damaged: the trees or their record differ from what was written "
                             "(SHA-256 mismatch with boosted_trees.meta.json)")


def test_a_truncated_data_record_is_named_on_predict(run):
    path = run / "data.json"
    path.write_text(path.read_text()[:50])
    user_error(predict(run), f"{path}: not valid JSON")


@pytest.mark.parametrize("tensor", ["transform.mean", "model.layers.0.weight"])
def test_a_flipped_bit_in_a_network_is_refused(run, tensor):
    flip(run / "mlp" / "model.safetensors", tensor)
    damaged = (run / "mlp" / "model.safetensors").read_bytes()
    user_error(predict(run), f"{run / 'mlp' / 'model.safetensors'}: {DAMAGED}")
    assert (run / "mlp" / "model.safetensors").read_bytes() == damaged  # left for the user to look at


def test_a_flipped_bit_in_the_early_stopping_state_is_refused_on_resume(run):
    checkpoint = run / "mlp" / "checkpoint.safetensors"
    size = int.from_bytes(checkpoint.read_bytes()[:8], "little")
    names = json.loads(checkpoint.read_bytes()[8:8 + size])
    best = next(name for name in names if name.startswith("early_stopping.best."))
    flip(checkpoint, best)
    (run / "mlp" / "metrics.json").unlink()  # the method was interrupted: resume reads its checkpoint
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent), f"{checkpoint}: {DAMAGED}")


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"auc": 0.9', "not valid JSON"),
    (b"\xff\xfe{}", "cannot be read ('utf-8' codec can't decode byte 0xff"),
    (b"[1, 2]", "expected a JSON object, received list"),
])
def test_a_damaged_method_record_is_named_on_resume(run, content, problem):
    (run / "bdt" / "metrics.json").write_bytes(content)
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent),
               f"{run / 'bdt' / 'metrics.json'}: {problem}")
    assert (run / "bdt" / "metrics.json").read_bytes() == content


def test_damaged_history_is_named_by_the_report(run):
    (run / "bdt" / "history.jsonl").write_text('{"a')
    user_error(run_quanta("report", str(run), cwd=run.parent),
               f"{run / 'bdt' / 'history.jsonl'}: line 1 is not valid JSON")


def test_the_undamaged_copy_still_predicts(run):
    done = predict(run)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["name"] == "paths"
