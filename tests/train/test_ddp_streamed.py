"""A streamed data set trains under torchrun: each rank reads its own chunks, every rank as many steps.

Two gloo ranks on 16 HDF5 files read in chunks (``streaming: always`` with a budget smaller
than the data); the ranks' shards differ in rows, and every rank stops after the batches of the
smallest (:mod:`quanta.data.stream.loader`), so the job ends instead of waiting in an
all-reduce. The batches differ from one process's (other chunks mixed), so the test AUC is
compared to within 0.01. Slow: one torchrun job, about 45 s on two shared cores.
"""

from __future__ import annotations

import json

import pytest
import yaml

from quanta.experiment import run_experiment
from tests.data.test_streaming import FEATURES, write_shards
from tests.train.ddp_job import ROOT, torchrun

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


def test_a_streamed_part_trains_on_two_ranks(tmp_path):
    pattern = write_shards(tmp_path / "h5", ".h5", shards=16, rows=1500)
    config = {"name": "stream", "seed": 3, "task": "binary", "importance": {"repeats": 0},
              "data": {"source": "files", "paths": [pattern], "features": [f"f{k}" for k in range(FEATURES)],
                       "label": "label", "streaming": "always", "memory": "1MB", "chunk_rows": 300},
              "methods": [{"name": "mlp", "model": "mlp", "params": {"hidden": [32]},
                           "train": {"epochs": 4, "batch_size": 128, "lr": 0.003, "progress": False,
                                     "device": "cpu"}}]}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    one = run_experiment(str(path), out=tmp_path / "one", verbose=False, report=False)
    done = torchrun(str(ROOT / "tests/train/ddp_job.py"), "run", str(tmp_path / "audit"), str(path),
                    str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr[-3000:]
    (two,) = (tmp_path / "two" / "stream").iterdir()
    assert json.loads((two / "data.json").read_text())["streamed"]
    history = [json.loads(line) for line in (two / "mlp" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
    auc = json.loads((two / "mlp" / "metrics.json").read_text())["test"]["auc"]
    assert auc == pytest.approx(one.metrics["mlp"]["test"]["auc"], abs=0.01)
    assert json.loads((tmp_path / "audit.rank1.json").read_text()) == []
