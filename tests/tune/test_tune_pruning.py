"""Pruning: a trial whose epoch-by-epoch validation metric trails the earlier trials' stops early."""

from __future__ import annotations

import pytest

import quanta
import quanta.errors

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS = 8


def test_median_pruning_stops_poor_trials_early(tmp_path):
    experiment = {
        "name": "calib-mlp", "seed": 1, "task": "regression",
        "data": {"source": "energy_calibration", "size": 600},
        "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [16]},
                     "train": {"epochs": EPOCHS, "batch_size": 64, "lr": 1e-5, "patience": 0}}],
        "search": {"sampler": "random", "trials": 10, "objective": "mse", "pruner": "median",
                   "space": {"methods.mlp.train.lr": {"float": [1e-5, 1e-1], "log": True}}},
    }
    result = quanta.tune(experiment, out=tmp_path, worker=True)
    states = [t["state"] for t in result.trials]
    assert len(states) == 10 and set(states) <= {"COMPLETE", "PRUNED"}
    pruned = [t for t in result.trials if t["state"] == "PRUNED"]
    complete = [t for t in result.trials if t["state"] == "COMPLETE"]
    assert len(pruned) >= 2, states
    for trial in pruned:  # stopped before the last epoch, after reporting at least one
        epochs = [int(e) for e in trial["intermediate"]]
        assert 1 <= max(epochs) < EPOCHS
        history = (result.folder / "trials" / str(trial["number"]) / "mlp" / "history.jsonl")
        assert len(history.read_text().splitlines()) == max(epochs)
    for trial in complete:
        assert sorted(int(e) for e in trial["intermediate"]) == list(range(1, EPOCHS + 1))
    saved = sum(EPOCHS - max(int(e) for e in t["intermediate"]) for t in pruned)
    assert saved >= 4  # epochs not trained
    best = min(complete, key=lambda t: t["values"][0])
    assert best["params"]["methods.mlp.train.lr"] > 1e-3  # the poor learning rates lose


def test_trials_that_diverge_fail_and_the_study_stops_when_every_one_does(tmp_path):
    experiment = {
        "name": "calib-mlp", "seed": 1, "task": "regression",
        "data": {"source": "energy_calibration", "size": 200},
        "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [8]},
                     "train": {"epochs": 2, "optimizer": "sgd", "momentum": 0.0}}],
        "search": {"sampler": "random", "trials": 3, "objective": "mse",
                   "space": {"methods.mlp.train.lr": {"float": [1e20, 1e30], "log": True}}},
    }
    with pytest.raises(quanta.errors.UserError,
                       match=r"search: 5 trials in a row failed; the last: mlp: "):
        quanta.tune(experiment, out=tmp_path, worker=True)
