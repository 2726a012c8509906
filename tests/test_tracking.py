"""Tracking to TensorBoard and MLflow (``tracking:``), as a user meets it.

A small binary experiment on files (a network for three epochs, boosted trees for four rounds)
is run with each tracker; the logged numbers are read back with the tracker's own reader
(TensorBoard's ``EventAccumulator``, MLflow's client) and compared with the run directory's
``history.jsonl`` and ``metrics.json``. A backend's test is skipped only when its package is
absent (the ``test`` extra installs both, through ``quanta[tracking]``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

import quanta
from quanta.config import resolve
from quanta.errors import UserError
from quanta.tracking import TENSORBOARD_FOLDER, Tracking
from quanta.train.callbacks import StopAfter
from quanta.train.loop import TrainingInterrupted
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS, ROUNDS = 3, 4
NETWORK = {
    "name": "mlp",
    "model": "mlp",
    "params": {"hidden": [16]},
    "train": {"epochs": EPOCHS, "batch_size": 128, "patience": 0},
}
TREES = {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": ROUNDS, "n_jobs": 1}}
NAMES = {"tensorboard": "TensorBoard", "mlflow": "MLflow"}
needs_tensorboard = pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None,
    reason="TensorBoard is not installed (quanta[tracking])",
)
needs_mlflow = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None, reason="MLflow is not installed (quanta[tracking])"
)


def experiment(tmp_path, tracking: dict, methods=(NETWORK, TREES)) -> dict:
    """A binary experiment on 600 events of two variables, one of which decides the label."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=600).astype(np.float32), rng.normal(size=600).astype(np.float32)
    np.savez(tmp_path / "events.npz", a=a, b=b, label=(a + 0.3 * b > 0).astype(np.int64))
    return {
        "name": "tracked",
        "task": "binary",
        "data": {
            "source": "files",
            "paths": [str(tmp_path / "events.npz")],
            "features": ["a", "b"],
            "label": "label",
        },
        "methods": [dict(m) for m in methods],
        "output": str(tmp_path / "runs"),
        "importance": {"repeats": 0},
        "tracking": tracking,
    }


def history(run_dir, method: str) -> list[dict]:
    lines = (run_dir / method / "history.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@needs_tensorboard
def test_tensorboard_event_files_hold_every_epoch_round_and_the_test_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = quanta.run_experiment(
        experiment(tmp_path, {"tensorboard": True}), verbose=False, report=False
    )
    for method, steps in (("mlp", EPOCHS), ("bdt", ROUNDS)):
        events = EventAccumulator(str(run.directory / TENSORBOARD_FOLDER / method))
        events.Reload()
        scalars = events.Tags()["scalars"]
        for record in history(run.directory, method):
            for key, value in record.items():
                if key in ("epoch", "best_epoch") or not isinstance(value, float):
                    continue
                logged = {e.step: e.value for e in events.Scalars(key)}
                assert logged[record["epoch"]] == pytest.approx(value, rel=1e-6), (method, key)
        assert [e.step for e in events.Scalars("train_loss")] == list(range(1, steps + 1))
        test = run.metrics[method]["test"]
        assert events.Scalars("test/auc")[-1].value == pytest.approx(test["auc"], rel=1e-6)
        assert {"train/auc", "valid/auc"} <= set(scalars)
        start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
        assert hparams["seed"].number_value == 1
    assert {"samples_per_second", "lr", "valid_loss", "valid_auc"} <= set(
        EventAccumulator(str(run.directory / TENSORBOARD_FOLDER / "mlp")).Reload().Tags()["scalars"]
    )
    assert hparams["method"].string_value == "boosted_trees"
    assert hparams["params.n_estimators"].number_value == ROUNDS


@needs_tensorboard
def test_a_tensorboard_folder_keeps_runs_apart(tmp_path):
    run = quanta.run_experiment(
        experiment(tmp_path, {"tensorboard": str(tmp_path / "tb")}, [TREES]),
        verbose=False,
        report=False,
    )
    folder = tmp_path / "tb" / "tracked" / run.directory.name / "bdt"
    assert any(path.name.startswith("events.out.tfevents") for path in folder.iterdir())
    assert not (run.directory / TENSORBOARD_FOLDER).exists()


@needs_mlflow
def test_mlflow_file_store_holds_one_nested_run_per_method_with_metrics_and_params(
    tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    run = quanta.run_experiment(
        experiment(tmp_path, {"mlflow": uri, "experiment": "study"}), verbose=False, report=False
    )
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name("study").experiment_id])
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["quanta.run_directory"] == str(run.directory.resolve())
    children = {r.data.tags["quanta.method"]: r for r in found if r not in parents}
    assert set(children) == {"mlp", "bdt"}
    for method, child in children.items():
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert child.info.status == "FINISHED"
        assert child.data.tags["quanta.run_directory"] == str((run.directory / method).resolve())
        losses = client.get_metric_history(child.info.run_id, "train_loss")
        expected = [(r["epoch"], r["train_loss"]) for r in history(run.directory, method)]
        assert [(m.step, m.value) for m in losses] == pytest.approx(expected)
        assert child.data.metrics["test/auc"] == pytest.approx(run.metrics[method]["test"]["auc"])
    assert children["mlp"].data.params["train.epochs"] == str(EPOCHS)
    assert children["mlp"].data.params["params.hidden"] == "[16]"
    assert children["bdt"].data.params["params.n_estimators"] == str(ROUNDS)
    assert "valid_auc" in children["mlp"].data.metrics


@needs_mlflow
def test_a_resumed_run_continues_its_mlflow_runs(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    with pytest.raises(TrainingInterrupted):
        quanta.run_experiment(
            experiment(tmp_path, {"mlflow": uri}, [NETWORK]),
            verbose=False,
            report=False,
            callbacks=[StopAfter(1)],
        )
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("tracked").experiment_id
    assert {r.info.status for r in client.search_runs([experiment_id])} == {"KILLED"}
    (run_dir,) = (tmp_path / "runs" / "tracked").iterdir()
    quanta.run_experiment(None, resume=run_dir, verbose=False, report=False)
    found = client.search_runs([experiment_id])
    assert len(found) == 2 and {r.info.status for r in found} == {"FINISHED"}
    (child,) = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    steps = [m.step for m in client.get_metric_history(child.info.run_id, "train_loss")]
    assert steps == list(range(1, EPOCHS + 1))


@needs_mlflow
@needs_tensorboard
def test_ranks_other_than_zero_log_nothing(tmp_path, monkeypatch):
    config = resolve(
        experiment(tmp_path, {"mlflow": f"file:{tmp_path / 'mlruns'}", "tensorboard": True})
    )
    monkeypatch.setenv("RANK", "1")
    with Tracking(config, tmp_path / "run") as tracking:
        assert tracking.method(config.methods[0], tmp_path / "run" / "mlp") is None
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "run").exists()


def test_a_tracker_that_is_not_installed_is_one_line_naming_the_extra_before_any_work(
    tmp_path, monkeypatch
):
    path = tmp_path / "e.yaml"
    for tracker, package in (("tensorboard", "tensorboard"), ("mlflow", "mlflow")):
        path.write_text(yaml.safe_dump(experiment(tmp_path, {tracker: True})))
        monkeypatch.setitem(sys.modules, package, None)  # `import package` now fails
        done = quanta_here("run", str(path), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"quanta: error: tracking.{tracker}: {NAMES[tracker]} "
            'is not installed; pip install "quanta[tracking]"'
        ]
        assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("tracking", "message"),
    [
        (
            {"tensorbord": True},
            "tracking.tensorbord: unknown key; did you mean 'tensorboard'? allowed: "
            "tensorboard, mlflow, experiment",
        ),
        ({"mlflow": 3}, "tracking.mlflow: expected true, false or a tracking URI"),
        ({"mlflow": "ftp://host"}, "tracking.mlflow: a tracking URI starts with one of file:,"),
        (
            {"tensorboard": ["a"]},
            "tracking.tensorboard: expected true, false or a folder, received ['a']",
        ),
        ({"experiment": ""}, "tracking.experiment: expected MLflow's experiment name"),
        ("yes", "tracking: input should be a valid dictionary, received 'yes'"),
    ],
)
def test_bad_tracking_blocks_are_one_line_with_exit_status_2(tmp_path, tracking, message):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(experiment(tmp_path, tracking)))
    done = quanta_here("run", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr


@needs_tensorboard
def test_a_method_named_like_the_tensorboard_folder_is_refused(tmp_path):
    methods = [{**TREES, "name": TENSORBOARD_FOLDER}]
    with pytest.raises(UserError, match="a method named 'tensorboard' would share"):
        resolve(experiment(tmp_path, {"tensorboard": True}, methods))


def test_nothing_of_the_trackers_is_imported_when_tracking_is_off(tmp_path):
    code = (
        "import sys, quanta; from quanta.config import resolve; "
        f"resolve({experiment(tmp_path, {})!r}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'mlflow') "
        "or m in ('quanta.tracking', 'torch.utils.tensorboard')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['quanta.tracking']"  # the checks only: no tracker imported


@needs_mlflow
def test_a_store_lost_during_training_stops_its_logging_with_a_warning_not_the_run(
    tmp_path, monkeypatch
):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from quanta.train.callbacks import Callback

    def unreachable(*args, **kwargs):
        raise MlflowException("API request failed: Max retries exceeded (connection refused)")

    class LoseTheStore(Callback):  # the server goes away after the runs were made
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                monkeypatch.setattr(MlflowClient, "log_batch", unreachable)

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    config = experiment(tmp_path, {"mlflow": f"file:{tmp_path / 'mlruns'}"}, [NETWORK])
    with pytest.warns(
        UserWarning,
        match=r"tracking.mlflow file:.*: cannot log metrics of run .*"
        r"connection refused\); no more MLflow logging for it",
    ):
        run = quanta.run_experiment(config, verbose=False, report=False, callbacks=[LoseTheStore()])
    assert len(history(run.directory, "mlp")) == EPOCHS and "auc" in run.metrics["mlp"]["test"]
    monkeypatch.undo()
    client = MlflowClient(f"file:{tmp_path / 'mlruns'}")
    (child,) = client.search_runs(
        [client.get_experiment_by_name("tracked").experiment_id],
        filter_string="tags.`quanta.method` = 'mlp'",
    )
    assert child.info.status == "FINISHED"  # what the store had before it went away is kept
    assert [m.step for m in client.get_metric_history(child.info.run_id, "train_loss")] == [1]
