"""Every method's variable ranking, as a user meets it: ``quanta run`` writes ``importance.json``
beside the metrics and the report ranks the variables of all methods in one table.

Data: events with four variables of which only ``signal`` decides the label (AUC about 0.97 from
it alone); the three noise variables carry nothing. Shuffling ``signal`` must cost every method
more than 0.3 of validation AUC (measured 0.44 to 0.47) and shuffling a noise variable less
than 0.02 (measured at most 0.006).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

import quanta
from quanta.data.dataset import Dataset, from_arrays
from quanta.errors import UserError
from quanta.report import read_run
from quanta.report.importance_section import importance_section
from quanta.rundir import MethodDirectory, RunDirectory
from tests.conftest import quanta_here

VARIABLES = ("noise_a", "noise_b", "signal", "noise_c")  # the signal is neither first nor last
BDT = {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 20, "n_jobs": 1}}


pytestmark = pytest.mark.usefixtures("one_thread")


def write_events(path, n: int = 3000, seed: int = 0, label: int | None = None) -> None:
    """An ``.npz`` of columns: three noise variables, ``signal`` and the label it decides."""
    rng = np.random.default_rng(seed)
    columns = {name: rng.normal(size=n).astype(np.float32) for name in VARIABLES}
    if label is None:
        columns["label"] = (columns["signal"] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    else:  # one class per file: its signal is shifted
        columns["signal"] += 1.5 if label else -1.5
    np.savez(path, **columns)


def experiment(tmp_path, methods: list[dict], **extra) -> dict:
    write_events(tmp_path / "events.npz")
    return {"name": "ranking", "task": "binary",
            "data": {"source": "files", "paths": [str(tmp_path / "events.npz")],
                     "features": list(VARIABLES), "label": "label"},
            "methods": methods, "output": str(tmp_path / "runs"), **extra}


def section(run_dir) -> str:
    """The report's Variable ranking section of a run directory."""
    return importance_section(read_run(run_dir))


def test_every_method_ranks_the_one_signal_variable_first_in_its_folder_and_report(tmp_path,
                                                                                    capsys):
    methods = [{"name": "lr", "method": "logistic_regression"},
               {**BDT, "params": {"n_estimators": 60, "n_jobs": 1}},
               {"name": "mlp", "model": "mlp", "params": {"hidden": [16]},
                "train": {"epochs": 5, "batch_size": 128, "lr": 0.01}}]
    run = quanta.run_experiment(experiment(tmp_path, methods), report=False).directory
    printed = capsys.readouterr().out
    for name in ("lr", "bdt", "mlp"):
        record = RunDirectory.open(run).method(name).read_importance()
        assert (record["split"], record["metric"], record["goal"]) == ("valid", "auc", "max")
        assert record["rows"] == 450 and record["repeats"] == 3  # the whole validation split
        drops = {f["name"]: f["drop"] for f in record["features"]}
        assert list(drops) == list(VARIABLES)
        assert drops["signal"] > 0.3, (name, drops)
        assert max(v for k, v in drops.items() if k != "signal") < 0.02, (name, drops)
        assert all(f["drop_std"] >= 0 for f in record["features"])
        line = f"{name}: variables ranked by the drop of validation auc when shuffled: signal,"
        assert line in printed
    bdt = RunDirectory.open(run).method("bdt").read_importance()
    assert max(bdt["features"], key=lambda f: f["trees"])["name"] == "signal"

    shown = section(run)
    assert shown.startswith("<h2>Variable ranking</h2>")
    names = re.findall(r'<td class="method">([^<]+)</td>', shown)
    assert names[0] == "signal" and sorted(names) == sorted(VARIABLES)
    assert all(f">{method}</th>" in shown for method in ("lr", "bdt", "mlp"))
    assert shown.count("Trees' share") == 1  # the BDT's own importances only
    assert "ΔAUC = AUC − AUC(shuffled)" in shown
    assert "450 validation events, 3 shuffles each" in shown


def test_importance_settings_are_read_checked_and_turn_shuffling_off(tmp_path):
    config = experiment(tmp_path, [BDT], importance={"repeats": 0})
    (tmp_path / "ranking.yaml").write_text(yaml.safe_dump(config))
    done = quanta_here("run", "ranking.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run, printed = next((tmp_path / "runs" / "ranking").iterdir()), done.stdout
    record = RunDirectory.open(run).method("bdt").read_importance()
    assert record["left_out"] == "importance.repeats is 0: shuffling turned off"
    assert all("drop" not in f and "trees" in f for f in record["features"])  # trees cost nothing
    assert "bdt: variables not shuffled (importance.repeats is 0: shuffling turned off)" in printed
    page = (run / "report.html").read_text()  # the whole report, as quanta run writes it
    assert "bdt: variables not shuffled (importance.repeats is 0: shuffling turned off)." in page
    assert "<h2>Variable ranking</h2>" in page and "Trees' share" in page

    for bad, message in [
            ({"rows": 5}, "importance.rows: input should be greater than or equal to 10, "
                          "received 5"),
            ({"repeat": 3}, "importance.repeat: unknown key 'repeat'; did you mean 'repeats'?")]:
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**config, "importance": bad}))
        done = quanta_here("run", "bad.yaml", cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_streamed_validation_split_is_sampled_from_every_file(tmp_path):
    """One class per file, read in chunks of 200 rows: the events drawn hold both classes."""
    for label in (0, 1):
        write_events(tmp_path / f"class{label}.npz", n=2000, seed=label, label=label)
    config = {"name": "streamed", "seed": 2, "task": "binary", "importance": {"rows": 300},
              "data": {"source": "files", "classes": {"background": str(tmp_path / "class0.npz"),
                                                       "signal": str(tmp_path / "class1.npz")},
                       "features": list(VARIABLES), "streaming": "always", "chunk_rows": 200},
              "methods": [BDT],
              "output": str(tmp_path / "runs")}
    run = quanta.run_experiment(config, verbose=False, report=False)
    assert json.loads((run.directory / "data.json").read_text())["streamed"]
    record = MethodDirectory(run.directory / "bdt").read_importance()
    assert 240 <= record["rows"] <= 300  # each chunk gives its share of the 600 validation events
    drops = {f["name"]: f["drop"] for f in record["features"]}
    assert max(drops, key=drops.get) == "signal" and drops["signal"] > 0.2, drops


def test_inputs_without_variables_are_left_out_with_the_reason():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(600, 1, 4, 4)).astype(np.float32)
    run = quanta.fit("boosted_trees", (images, rng.integers(0, 2, 600)), params={"n_estimators": 5})
    record = MethodDirectory(run.result.directory).read_importance()
    assert record["left_out"] == ("the inputs are 1 × 4 × 4 values per event (an image or a "
                                  "grid), not named variables")
    assert record["features"] == []
    note = "boosted_trees: variables not shuffled (the inputs are 1 × 4 × 4 values"
    assert note in section(run.directory)

    x = rng.normal(size=(600, 3)).astype(np.float32)
    heads = {"tag": {"task": "binary", "target": "y"}, "mass": {"task": "regression"}}
    both = quanta.fit("mlp", from_arrays(x, (x[:, 0] > 0).astype(np.float32), mass=x[:, 1] ** 2),
                      task="multitask", task_params={"heads": heads}, epochs=1)
    record = MethodDirectory(both.result.directory).read_importance()
    assert record["left_out"] == "the task scores 2 heads (tag, mass), each by its own metrics"


def test_a_regression_ranks_by_the_growth_of_its_mse():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1500, 3)).astype(np.float32)
    y = 2 * x[:, 1] + 0.1 * rng.normal(size=1500)
    run = quanta.fit("logistic_regression", (x, y), task="regression")
    record = MethodDirectory(run.result.directory).read_importance()
    assert (record["metric"], record["goal"]) == ("mse", "min")
    drops = {f["name"]: f["drop"] for f in record["features"]}
    assert drops["x1"] == pytest.approx(8.0, rel=0.15)  # 2 Var(2 x1): the law of the shuffled copy
    assert abs(drops["x0"]) < 0.01 and abs(drops["x2"]) < 0.01
    assert "ΔMSE = MSE(shuffled) − MSE" in section(run.directory)


def test_a_particle_feature_of_sets_is_ranked():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1500, 6, 3)).astype(np.float32)
    mask = np.arange(6)[None, :] < rng.integers(2, 7, size=1500)[:, None]
    x[~mask] = 0.0
    y = ((x[:, :, 2] * mask).sum(axis=1) > 0).astype(np.int64)  # the total "charge" decides
    data = Dataset({"x": x, "mask": mask, "y": y}, feature_names=["pt", "eta", "charge"])
    run = quanta.fit("deepsets", data, epochs=6)
    record = MethodDirectory(run.result.directory).read_importance()
    drops = {f["name"]: f["drop"] for f in record["features"]}
    assert drops["charge"] > 0.3 and max(drops["pt"], drops["eta"]) < 0.02, drops


def test_a_changed_ranking_is_refused_and_a_run_without_one_is_reported(tmp_path):
    x = np.random.default_rng(5).normal(size=(600, 2)).astype(np.float32)
    run = quanta.fit("logistic_regression", (x, (x[:, 0] > 0).astype(np.int64)), out=tmp_path)
    path = run.result.directory / MethodDirectory.IMPORTANCE
    record = json.loads(path.read_text())
    original = path.read_text()
    record["features"][1]["drop"] = 0.9
    path.write_text(json.dumps(record))
    done = quanta_here("report", str(run.directory), cwd=tmp_path)
    assert done.returncode == 2 and "importance.json: changed since quanta wrote it" in done.stderr
    path.write_text(original)
    assert section(run.directory).startswith("<h2>Variable ranking</h2>")
    path.unlink()  # as in a run written before rankings existed
    assert section(run.directory) == ""


def test_resume_ranks_a_finished_method_that_stopped_before_its_ranking(tmp_path):
    config = experiment(tmp_path, [BDT])
    run = quanta.run_experiment(config, verbose=False, report=False).directory
    folder = RunDirectory.open(run).method("bdt")
    written = folder.read_importance()
    (folder / folder.IMPORTANCE).unlink()  # as a kill after the metrics, before the ranking
    done = quanta_here("run", "--resume", str(run), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "bdt: finished in the earlier run, kept" in done.stdout
    again = folder.read_importance()
    assert again["features"] == written["features"]  # the saved trees rank alike
    folder.verify()


def test_a_ranking_file_of_another_form_is_refused_in_one_line(tmp_path):
    folder = MethodDirectory(tmp_path)
    record = {"features": [{"name": "pt", "drop": "big"}]}
    (tmp_path / folder.IMPORTANCE).write_text(json.dumps(record))
    with pytest.raises(UserError, match="importance.json: not a quanta variable ranking"):
        folder.read_importance()
