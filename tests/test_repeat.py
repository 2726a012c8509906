"""``repeat: N``: every method retrained with N seeds on one split, mean ± std in repeats.json."""

import json

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.experiment import run_experiment
from quanta.repeats import DDOF, repeat_seed
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT = {
    "name": "repeated",
    "seed": 4,
    "task": "binary",
    "data": {"source": "pulses", "size": 600},
    "importance": {"repeats": 0},
    "methods": [
        {"name": "forest", "method": "random_forest", "params": {"n_estimators": 8, "max_depth": 4}},
        {"name": "mlp", "model": "mlp", "params": {"hidden": [16]},
         "train": {"epochs": 3, "batch_size": 64, "lr": 0.003}},
    ],
}


def _predictions(folder):
    with np.load(folder / "predictions.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    """The experiment trained once and with repeat: 3 (the same seed)."""
    out = tmp_path_factory.mktemp("runs")
    once = run_experiment(EXPERIMENT, out=out / "once", verbose=False, report=False)
    three = run_experiment({**EXPERIMENT, "repeat": 3}, out=out / "three", verbose=False)
    return once, three


def test_three_trainings_give_their_mean_and_std(repeated):
    _, three = repeated
    record = json.loads((three.directory / "repeats.json").read_text())
    assert record["repeat"] == 3 and record["seeds"] == [repeat_seed(4, r) for r in range(3)]
    assert len(set(record["seeds"])) == 3
    for name in ("forest", "mlp"):
        folders = record["methods"][name]["folders"]
        assert folders == [name, f"repeats/1/{name}", f"repeats/2/{name}"]
        test = record["methods"][name]["metrics"]["test"]
        values = []
        for folder in folders:
            stored = json.loads((three.directory / folder / "metrics.json").read_text())
            values.append(stored["test"]["auc"])
        assert test["auc"]["values"] == values
        assert test["auc"]["mean"] == pytest.approx(np.mean(values), abs=0, rel=1e-12)
        assert test["auc"]["std"] == pytest.approx(np.std(values, ddof=DDOF), abs=0, rel=1e-12)
        assert len(set(values)) == 3, (name, values)  # other seeds, other trainings
        predictions = [_predictions(three.directory / folder) for folder in folders]
        for other in predictions[1:]:  # one split for all: the same test rows, the same labels
            assert np.array_equal(other["test_y"], predictions[0]["test_y"])
            assert not np.array_equal(other["test_score"], predictions[0]["test_score"])


def test_repeat_zero_is_the_run_without_repeat(repeated):
    once, three = repeated
    assert not (once.directory / "repeats.json").exists()
    assert json.loads((once.directory / "metrics.json").read_text()).keys() == \
        json.loads((three.directory / "metrics.json").read_text()).keys()
    for name in ("forest", "mlp"):
        first, again = _predictions(once.directory / name), _predictions(three.directory / name)
        assert first.keys() == again.keys()
        for key in first:
            assert np.array_equal(first[key], again[key]), (name, key)
        assert once.metrics[name]["test"] == three.metrics[name]["test"]


def test_the_report_shows_the_spread(repeated):
    _, three = repeated
    page = (three.directory / "report.html").read_text()
    assert "Spread over 3 trainings" in page
    assert str(repeat_seed(4, 2)) in page  # the seeds, per repeat


def test_a_resumed_run_keeps_finished_repeats(repeated, tmp_path):
    _, three = repeated
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(three.directory, copy)
    kept = (copy / "repeats/1/mlp/model.safetensors").stat().st_mtime_ns
    shutil.rmtree(copy / "repeats/2/mlp")  # killed before the last training
    (copy / "repeats.json").unlink()
    again = run_experiment(resume=copy, verbose=False, report=False)
    assert (copy / "repeats/1/mlp/model.safetensors").stat().st_mtime_ns == kept
    assert (copy / "repeats/2/mlp/metrics.json").is_file()  # the missing training redone
    record = json.loads((copy / "repeats.json").read_text())
    original = json.loads((three.directory / "repeats.json").read_text())
    assert record["methods"]["mlp"] == original["methods"]["mlp"]  # retrained bit for bit
    assert again.metrics == three.metrics


@pytest.mark.parametrize("args", [("--repeat", "0"), ("--repeat", "-2")])
def test_cli_refuses_fewer_than_one_training(tmp_path, args):
    path = tmp_path / "experiment.yaml"
    path.write_text(json.dumps(EXPERIMENT))
    done = quanta_here("run", str(path), *args, "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 2
    assert "repeat" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_negative_repeat_in_the_file_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"^repeat: input should be greater than or equal to 1"):
        run_experiment({**EXPERIMENT, "repeat": -1}, out=tmp_path, verbose=False)


def test_a_lower_limit_keeps_its_flag_per_repeat():
    from quanta.repeats import spread
    from quanta.report.repeats_section import spread_text

    runs = [{"test": {"rejection_at_0.3": 40.0, "rejection_at_0.3_lower_limit": True, "auc": 0.9}},
            {"test": {"rejection_at_0.3": 30.0, "rejection_at_0.3_lower_limit": False, "auc": 0.8}}]
    record = spread({"bdt": runs}, [1, 2])
    test = record["methods"]["bdt"]["metrics"]["test"]
    assert "rejection_at_0.3_lower_limit" not in test and "lower_limits" not in test["auc"]
    assert test["rejection_at_0.3"]["lower_limits"] == [True, False]
    assert spread_text(test["rejection_at_0.3"]).endswith("(1 of 2 lower limits)")
    assert test["auc"]["std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
