"""A rank that raises fails the whole torchrun job, loudly and quickly.

``tests/train/ddp_job.py fail`` runs an experiment through quanta's API on two gloo ranks with a
callback that raises on rank 1 as its second epoch starts, while rank 0 waits in the next
gradient all-reduce. torchrun's agent sees rank 1 exit non-zero and stops rank 0: the job exits
non-zero with rank 1's message on stderr within :data:`WITHIN` seconds of the raise (measured
here: 3 to 5 s; the whole test about 15 s on two shared cores).
"""

from __future__ import annotations

import re
import time

import pytest
import yaml

from tests.train.ddp_job import EXPERIMENT, ROOT, torchrun

pytestmark = pytest.mark.usefixtures("one_thread")

WITHIN = 15.0  # seconds from rank 1's raise to the end of the job


def test_a_failing_rank_fails_the_job_within_seconds(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({**EXPERIMENT, "methods": [
        {**EXPERIMENT["methods"][0], "train": {**EXPERIMENT["methods"][0]["train"], "epochs": 50}}]}))
    done = torchrun(str(ROOT / "tests/train/ddp_job.py"), "fail", str(path), str(tmp_path / "out"))
    ended = time.time()
    assert done.returncode != 0
    raised = re.search(r"RuntimeError: rank 1 fails on purpose at ([0-9.]+)", done.stderr)
    assert raised, done.stderr[-3000:]
    assert ended - float(raised.group(1)) < WITHIN
    assert re.search(r"rank\s*:\s*1", done.stderr)  # torchrun's summary names the failed rank
