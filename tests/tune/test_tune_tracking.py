"""A search's trials log to the experiment's trackers: one TensorBoard folder per trial, the
epochs of a complete trial and the validation metrics it was judged by, a pruned trial's
epochs up to where it stopped."""

from __future__ import annotations

import pytest

import quanta

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS = 6


def test_every_trial_logs_its_epochs_and_validation_metrics_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    experiment = {
        "name": "calib-mlp", "seed": 1, "task": "regression",
        "data": {"source": "energy_calibration", "size": 400},
        "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [8]},
                     "train": {"epochs": EPOCHS, "batch_size": 64, "patience": 0}}],
        "tracking": {"tensorboard": True},
        "search": {"sampler": "random", "trials": 6, "objective": "mse", "pruner": "median",
                   "space": {"methods.mlp.train.lr": {"float": [1e-5, 1e-1], "log": True}}},
    }
    result = quanta.tune(experiment, out=tmp_path, worker=True)
    assert len(result.trials) == 6
    for trial in result.trials:
        folder = result.folder / "trials" / str(trial["number"]) / "tensorboard" / "mlp"
        events = EventAccumulator(str(folder)).Reload()
        epochs = [e.step for e in events.Scalars("train_loss")]
        reported = sorted(int(e) for e in trial["intermediate"])
        assert epochs == reported, (trial["state"], epochs, reported)
        if trial["state"] == "COMPLETE":
            assert len(epochs) == EPOCHS
            (logged,) = events.Scalars("valid/mse")
            assert logged.value == pytest.approx(trial["values"][0], rel=1e-6)
