"""A torchrun job killed after an epoch's checkpoint resumes with ``--resume`` and finishes.

``python -m torch.distributed.run --nproc-per-node 2 -m quanta run EXPERIMENT.yaml`` is killed
(SIGKILL of the agent and both ranks, as a machine's end would) once two epochs are recorded;
``... -m quanta run --resume RUN_DIR`` on two ranks continues from rank 0's checkpoint and ends
where the same training in one process ends (to 1e-4: the order of floating-point sums).
Slow: two torchrun jobs with their reports, about 60 s on two shared cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from quanta.experiment import run_experiment
from tests.train.ddp_job import EXPERIMENT, ROOT, torchrun, torchrun_command, torchrun_env

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

EPOCHS = 40


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (torchrun's ranks, each in a session of its own)."""
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(p) for p in open(path).read().split()] if os.path.exists(path) else []


def test_a_killed_ddp_run_resumes_and_finishes(tmp_path):
    method = {**EXPERIMENT["methods"][0], "train": {**EXPERIMENT["methods"][0]["train"], "epochs": EPOCHS}}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, "methods": [method]}))
    one = run_experiment(str(path), out=tmp_path / "one", verbose=False, report=False)

    log = open(tmp_path / "first.log", "w")
    job = subprocess.Popen(torchrun_command("-m", "quanta", "run", str(path), "--out", str(tmp_path / "two")),
                           cwd=ROOT, env=torchrun_env(), stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    history = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job.poll() is None:
        found = list((tmp_path / "two").glob("ddp-small/*/mlp/history.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 2:
            history = found[0]
            break
        time.sleep(0.05)
    ranks = children(job.pid)
    for pid in [*ranks, job.pid]:
        os.kill(pid, signal.SIGKILL)
    job.wait()
    log.close()
    assert history is not None, (tmp_path / "first.log").read_text()[-3000:]
    run_dir = history.parent.parent
    assert len(ranks) == 2 and not (run_dir / "mlp" / "metrics.json").exists()
    assert (run_dir / "mlp" / "checkpoint.safetensors").exists()

    done = torchrun("-m", "quanta", "run", "--resume", str(run_dir))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    epochs = [json.loads(line)["epoch"] for line in history.read_text().splitlines()]
    assert epochs == list(range(1, EPOCHS + 1))
    test = json.loads((run_dir / "mlp" / "metrics.json").read_text())["test"]
    assert test["auc"] == pytest.approx(one.metrics["mlp"]["test"]["auc"], abs=1e-4)
    assert (run_dir / "report.html").exists()
