"""Checkpoints: exact resumption, RNG states, no unpickling, atomic writes."""

from __future__ import annotations

import math
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from quanta.errors import UserError
from quanta.train.checkpoint import (
    capture_rng,
    flatten_state,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
    unflatten_state,
)

# -- continuing training bit-for-bit -----------------------------------------------

SCHEDULES = {
    "step": lambda optimiser: torch.optim.lr_scheduler.StepLR(optimiser, step_size=3, gamma=0.5),
    "cosine": lambda optimiser: torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=10),
}


class Run:
    """A model, Adam and a schedule, trained on random mini-batches with dropout."""

    def __init__(self, schedule: str, seed: int):
        torch.manual_seed(seed)
        self.model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=0.01, betas=(0.8, 0.99))
        self.schedule = SCHEDULES[schedule](self.optimiser)
        generator = torch.Generator().manual_seed(123)
        self.x = torch.randn(64, 4, generator=generator)
        self.y = torch.randn(64, 1, generator=generator)

    def step(self) -> float:
        batch = torch.randint(0, 64, (8,))  # torch's RNG, like dropout
        noise = float(np.random.normal()) * 1e-3 + random.random() * 1e-3  # numpy's and Python's
        self.optimiser.zero_grad()
        loss = nn.functional.mse_loss(self.model(self.x[batch]) + noise, self.y[batch])
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
        return loss.item()

    def save(self, path: Path) -> None:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optimiser_state = self.optimiser.state_dict()
        optimiser_tensors, optimiser_skeleton = flatten_state(optimiser_state, "optimizer")
        schedule_tensors, schedule_skeleton = flatten_state(self.schedule.state_dict(), "schedule")
        rng_tensors, rng_meta = capture_rng()
        tensors |= optimiser_tensors | schedule_tensors
        tensors |= {f"rng.{k}": v for k, v in rng_tensors.items()}
        meta = {"optimizer": optimiser_skeleton, "schedule": schedule_skeleton, "rng": rng_meta}
        save_checkpoint(path, tensors, meta)

    def load(self, path: Path) -> None:
        tensors, meta = load_checkpoint(path)
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        self.optimiser.load_state_dict(unflatten_state(tensors, meta["optimizer"], "optimizer"))
        self.schedule.load_state_dict(unflatten_state(tensors, meta["schedule"], "schedule"))
        restore_rng({k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}, meta["rng"])


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_resumed_training_repeats_bit_for_bit(tmp_path: Path, schedule: str) -> None:
    np.random.seed(7)
    random.seed(7)
    run = Run(schedule, seed=0)
    for _ in range(5):
        run.step()
    path = tmp_path / "checkpoint.safetensors"
    run.save(path)
    expected = [run.step() for _ in range(8)]

    resumed = Run(schedule, seed=99)  # different weights until the checkpoint is loaded
    np.random.seed(0)
    random.seed(0)
    resumed.load(path)
    assert [resumed.step() for _ in range(8)] == expected
    for a, b in zip(run.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed.schedule.get_last_lr() == run.schedule.get_last_lr()


def test_flatten_round_trip_keeps_types(tmp_path: Path) -> None:
    shared = torch.arange(3.0)
    state = {
        "state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.ones(2, 3)}, 1: {}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "foreach": None}],
        "flags": {True: "yes", 2.5: [1, (2, "three")]},
        "__dunder__": shared,
        "again": shared,
        "a.b": torch.zeros(1),
        "a": {"b": torch.ones(1)},
        "limits": [math.inf, -math.inf, 1e-300, 0.1 + 0.2],
        "mean_": np.array([1.5, -2.0]),
        "empty": torch.zeros(0, 4),
    }
    tensors, skeleton = flatten_state(state, "opt")
    assert all(name.startswith("opt.") for name in tensors)
    assert "opt.state.0.exp_avg" in tensors
    save_checkpoint(tmp_path / "c.safetensors", tensors, {"skeleton": skeleton})
    loaded, meta = load_checkpoint(tmp_path / "c.safetensors")
    back = unflatten_state(loaded, meta["skeleton"], "opt")

    assert list(back["state"]) == [0, 1]  # int keys come back as ints
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)
    assert type(back["param_groups"][0]["betas"]) is tuple
    assert back["flags"] == {True: "yes", 2.5: [1, (2, "three")]}
    assert back["__dunder__"] is back["again"]  # one tensor object stored once
    assert torch.equal(back["a.b"], torch.zeros(1)) and torch.equal(back["a"]["b"], torch.ones(1))
    assert back["limits"] == state["limits"]
    assert isinstance(back["mean_"], np.ndarray) and back["mean_"].tolist() == [1.5, -2.0]
    assert back["empty"].shape == (0, 4)
    assert torch.equal(back["state"][0]["exp_avg"], torch.ones(2, 3))


def test_flatten_refuses_objects_it_cannot_store() -> None:
    with pytest.raises(TypeError, match="cannot store object at groups.0.fn"):
        flatten_state({"groups": [{"fn": object()}]}, "schedule")


def test_tensors_sharing_memory_are_saved(tmp_path: Path) -> None:
    weight = torch.randn(4, 4)
    tensors = {"encoder.weight": weight, "decoder.weight": weight, "row": weight[1], "t": weight.T}
    save_checkpoint(tmp_path / "c.safetensors", tensors, {})
    loaded, _ = load_checkpoint(tmp_path / "c.safetensors")
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor)


# -- random number generators -----------------------------------------------------


def _draws() -> tuple[list[float], list[float], list[float]]:
    return (
        torch.rand(5).tolist(),
        np.random.normal(size=5).tolist() + [np.random.standard_normal()],
        [random.random(), random.gauss(0, 1), random.gauss(0, 1)],
    )


def test_rng_capture_and_restore_repeat_the_draws(tmp_path: Path) -> None:
    np.random.normal()  # leave a cached Gaussian in NumPy's state
    random.gauss(0, 1)  # and in Python's
    tensors, meta = capture_rng()
    save_checkpoint(tmp_path / "rng.safetensors", tensors, meta)  # through the file, JSON and all
    expected = _draws()
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    loaded, loaded_meta = load_checkpoint(tmp_path / "rng.safetensors")
    restore_rng(loaded, loaded_meta)
    assert _draws() == expected


def test_restore_rng_without_state_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no RNG state"):
        restore_rng({}, {})


# -- never unpickle ---------------------------------------------------------------


class _Trap:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_trap_works_when_unpickled(tmp_path: Path) -> None:
    # guard for the tests below: the payload really does run when unpickled
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Trap(marker))).close()
    assert marker.exists()


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickles_are_refused_without_running_them(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "checkpoint.safetensors"
    if writer == "pickle":
        path.write_bytes(pickle.dumps({"weights": torch.ones(2), "trap": _Trap(marker)}))
    else:
        torch.save({"weights": torch.ones(2), "trap": _Trap(marker)}, path)
    with pytest.raises(UserError, match=f"{path}: not a valid checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_truncated_and_foreign_files_are_user_errors(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {"w": torch.randn(100)}, {"epoch": 3})
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError, match="not a valid checkpoint"):
        load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(UserError, match="not a valid checkpoint"):
        load_checkpoint(path)
    safetensors.torch.save_file({"w": torch.ones(1)}, str(path))  # valid, but not quanta's
    with pytest.raises(UserError, match="not a quanta checkpoint"):
        load_checkpoint(path)
    with pytest.raises(UserError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.safetensors")


# -- atomic writes ----------------------------------------------------------------


def test_failed_write_keeps_the_earlier_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, {"w": torch.ones(3)}, {"epoch": 1})

    def write_half_then_fail(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": torch.zeros(3)}, {"epoch": 2})
    monkeypatch.undo()

    tensors, meta = load_checkpoint(path)
    assert meta == {"epoch": 1} and torch.equal(tensors["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.safetensors"]


def test_save_replaces_and_round_trips_meta(tmp_path: Path) -> None:
    path = tmp_path / "run" / "checkpoint.safetensors"  # the folder is created
    save_checkpoint(path, {"w": torch.ones(3)}, {"epoch": 1})
    meta = {"epoch": 2, "history": [{"loss": 0.5, "auc": float("nan")}], "name": "mlp"}
    save_checkpoint(path, {"w": torch.zeros(3, dtype=torch.float64)}, meta)
    tensors, loaded = load_checkpoint(path)
    assert loaded["epoch"] == 2 and math.isnan(loaded["history"][0]["auc"])
    assert tensors["w"].dtype == torch.float64
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.safetensors"]


def test_meta_must_be_json() -> None:
    with pytest.raises(TypeError, match="JSON-able"):
        save_checkpoint("unused.safetensors", {}, {"model": nn.Linear(1, 1)})
