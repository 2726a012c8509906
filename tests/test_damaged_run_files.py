"""Damaged and altered run files (issue 11): a one-line error naming the file, never a traceback.

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


@pytest.fixture
def unlisted(run):
    """The run as one from before manifests: each file's own checks are all there is."""
    for manifest in run.rglob("manifest.json"):
        manifest.unlink()
    return run


CHANGED = "changed since quanta wrote it (its SHA-256 differs from the one in manifest.json); it cannot be trusted"


def edit(path) -> None:
    """Change a file as an editor or a flipped bit would: one byte."""
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(bytes(payload))


@pytest.mark.parametrize("name", ["bdt/metrics.json", "bdt/boosted_trees.meta.json", "bdt/boosted_trees.json",
                                  "bdt/predictions.npz", "bdt/history.jsonl", "mlp/model.safetensors",
                                  "data.json", "config.yaml"])
def test_any_file_changed_after_the_run_is_refused(run, name):
    edit(run / name)
    changed = (run / name).read_bytes()
    command = ("report", str(run)) if name.endswith(("metrics.json", "history.jsonl", ".npz")) else None
    done = run_quanta(*command, cwd=run.parent) if command else predict(run)
    user_error(done, f"{run / name}: {CHANGED}")
    assert (run / name).read_bytes() == changed  # left as it was, for the user to look at


def test_an_edited_metric_is_not_reported_as_true(run):
    path = run / "bdt" / "metrics.json"
    path.write_text(path.read_text().replace('"auc": 0.', '"auc": 0.9', 1))
    user_error(run_quanta("report", str(run), cwd=run.parent), f"{path}: {CHANGED}")
    path = run / "metrics.json"
    path.write_text(path.read_text().replace('"auc": 0.', '"auc": 0.9', 1))
    user_error(run_quanta("report", str(run), cwd=run.parent), f"{path}: {CHANGED}")


def test_a_damaged_manifest_is_named(run):
    (run / "bdt" / "manifest.json").write_text('{"metrics.json": "abc"}')
    user_error(predict(run), f"{run / 'bdt' / 'manifest.json'}: not a quanta manifest")


def flip(path, tensor: str, byte: int = 1) -> None:
    """Flip one bit inside the named tensor of a safetensors file."""
    payload = bytearray(path.read_bytes())
    size = int.from_bytes(payload[:8], "little")
    start = json.loads(payload[8:8 + size])[tensor]["data_offsets"][0] + 8 + size
    payload[start + byte] ^= 0x10
    path.write_bytes(bytes(payload))


def predict(run):
    return run_quanta("predict", str(run), "d.parquet", "--out", "p.parquet", cwd=run.parent)


def test_an_empty_boosted_trees_record_is_named_on_predict_and_resume(unlisted):
    run = unlisted
    (run / "bdt" / "boosted_trees.meta.json").write_text("")
    message = (f"{run / 'bdt' / 'boosted_trees.meta.json'}: cannot read the saved boosted trees' "
               "record (Expecting value: line 1 column 1 (char 0))")
    user_error(predict(run), message)
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent), message)
    assert not (run.parent / "p.parquet").exists()
    (run / "bdt" / "boosted_trees.meta.json").write_text('{"task": "binary"}')
    user_error(predict(run), "boosted_trees.meta.json: cannot read the saved boosted trees' record "
                             "(missing key 'best_round')")


def test_an_edited_tree_is_refused_by_itself(unlisted):
    run = unlisted
    path = run / "bdt" / "boosted_trees.json"
    text = path.read_text()
    at = text.index('"base_weights":[') + len('"base_weights":[')
    path.write_text(text[:at] + "9" + text[at:])  # one more digit in a leaf weight: still valid JSON
    user_error(predict(run), f"{path}: damaged: the trees or their record differ from what was written "
                             "(SHA-256 mismatch with boosted_trees.meta.json)")


def test_a_truncated_data_record_is_named_on_predict(unlisted):
    run = unlisted
    path = run / "data.json"
    path.write_text(path.read_text()[:50])
    user_error(predict(run), f"{path}: not valid JSON")


@pytest.mark.parametrize("tensor", ["transform.mean", "model.layers.0.weight"])
def test_a_flipped_bit_in_a_network_is_refused_by_itself(unlisted, tensor):
    run = unlisted
    flip(run / "mlp" / "model.safetensors", tensor)
    damaged = (run / "mlp" / "model.safetensors").read_bytes()
    user_error(predict(run), f"{run / 'mlp' / 'model.safetensors'}: {DAMAGED}")
    assert (run / "mlp" / "model.safetensors").read_bytes() == damaged  # left for the user to look at


def test_a_flipped_bit_in_the_early_stopping_state_is_refused_on_resume(unlisted):
    run = unlisted
    checkpoint = run / "mlp" / "checkpoint.safetensors"
    size = int.from_bytes(checkpoint.read_bytes()[:8], "little")
    names = json.loads(checkpoint.read_bytes()[8:8 + size])
    best = next(name for name in names if name.startswith("early_stopping.best."))
    flip(checkpoint, best)
    (run / "mlp" / "metrics.json").unlink()  # the method was interrupted: resume reads its checkpoint
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent), f"{checkpoint}: {DAMAGED}")


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"auc": 0.9', "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 0xff at position 0)"),
    (b"[1, 2]", "expected a JSON object, received list"),
])
def test_a_damaged_method_record_is_named_on_resume(unlisted, content, problem):
    run = unlisted
    (run / "bdt" / "metrics.json").write_bytes(content)
    user_error(run_quanta("run", "--resume", str(run), cwd=run.parent),
               f"{run / 'bdt' / 'metrics.json'}: {problem}")
    assert (run / "bdt" / "metrics.json").read_bytes() == content


def test_damaged_history_is_named_by_the_report(unlisted):
    run = unlisted
    (run / "bdt" / "history.jsonl").write_text('{"a')
    user_error(run_quanta("report", str(run), cwd=run.parent),
               f"{run / 'bdt' / 'history.jsonl'}: line 1 is not valid JSON")


def test_the_undamaged_copy_still_predicts(run):
    done = predict(run)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((run / "config.yaml").read_text())["name"] == "paths"
