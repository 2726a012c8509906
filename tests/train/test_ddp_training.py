"""Two gloo ranks under torchrun train as one process with the same global batch; rank 1 writes nothing.

One torchrun job of two processes (about 15 s on two shared cores) and the same experiment in
this process; the per-epoch training and validation losses agree to 1e-5 (relative) and the
test metrics to 1e-4: the two runs differ only in the order of floating-point sums. In this
process (no torchrun; ``RANK`` and ``WORLD_SIZE`` set by hand): the rank slices of a batch, and
the refusal of a batch size the ranks do not divide.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from quanta.data.batching import DeviceData
from quanta.data.dataset import from_arrays
from quanta.errors import UserError
from quanta.experiment import run_experiment
from quanta.train.config import TrainConfig
from quanta.train.state import TrainingState
from tests.train.ddp_job import EXPERIMENT, ROOT, torchrun

pytestmark = pytest.mark.usefixtures("one_thread")



def history(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "mlp" / "history.jsonl").read_text().splitlines()]


def test_two_ranks_train_as_one_process_and_only_rank_zero_writes(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    one = run_experiment(str(path), out=tmp_path / "one", verbose=False, report=False)

    done = torchrun(str(ROOT / "tests/train/ddp_job.py"), "run", str(tmp_path / "audit"), str(path),
                    str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[-3000:]
    (two,) = (tmp_path / "two" / "ddp-small").iterdir()

    alone, together = history(one.directory), history(two)
    assert len(alone) == len(together) == 4
    for a, b in zip(alone, together, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["valid_loss"] == pytest.approx(a["valid_loss"], rel=1e-5)
    assert together[-1]["train_loss"] < 0.5 * together[0]["train_loss"]  # it learned
    test_one = one.metrics["mlp"]["test"]
    test_two = json.loads((two / "mlp" / "metrics.json").read_text())["test"]
    assert test_two["auc"] > 0.95
    for key, value in test_one.items():
        assert test_two[key] == pytest.approx(value, abs=1e-4), key

    # rank 1 made no file, folder or rename below the output folder; rank 0 made the run directory
    assert json.loads((tmp_path / "audit.rank1.json").read_text()) == []
    assert json.loads((tmp_path / "audit.rank0.json").read_text()) == []  # rank 0 is not watched
    assert sorted(p.name for p in (two / "mlp").iterdir()) == sorted(
        p.name for p in (one.directory / "mlp").iterdir())
    assert int((two / ".lock").read_text()) != 0  # held by rank 0's process


def rank_batches(monkeypatch, data, rank: int, ranks: int, batch_size: int) -> list:
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(ranks))
    return [b["x"] for b in data.batches(batch_size, torch.Generator().manual_seed(5))]


def test_ranks_take_equal_slices_of_every_global_batch(monkeypatch):
    """Rank slices side by side are the one-process batch; the last batch's remainder is left out."""
    x = torch.arange(23, dtype=torch.float32)[:, None]  # batches of 8, 8 and 7 rows
    data = DeviceData(from_arrays(x.numpy(), np.zeros(23, np.float32)), "cpu", ("x",))
    alone = [b["x"] for b in data.batches(8, torch.Generator().manual_seed(5))]
    first, second = (rank_batches(monkeypatch, data, rank, 2, 8) for rank in (0, 1))
    assert len(first) == len(second) == 3
    for whole, a, b in zip(alone[:2], first, second, strict=False):
        assert torch.equal(torch.cat([a, b]), whole)
    assert len(first[2]) == len(second[2]) == 3  # 7 rows: 3 each, one left out this epoch
    assert torch.equal(torch.cat([first[2], second[2]]), alone[2][:6])
    assert rank_batches(monkeypatch, data, 4, 5, 20)[-1].shape[0] == 4  # 3 rows for 5 ranks: none
    assert len(rank_batches(monkeypatch, data, 4, 5, 20)) == 1


def test_a_batch_size_the_ranks_do_not_divide_is_refused(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    model = torch.nn.Linear(3, 1)
    with pytest.raises(UserError, match="train.batch_size: 63 is not a multiple of the 2 ranks"):
        TrainingState(model, {"model": model}, TrainConfig(batch_size=63), torch.device("cpu"))
