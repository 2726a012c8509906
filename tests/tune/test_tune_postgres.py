"""Studies on PostgreSQL, the storage of many machines: workers in separate processes record
every trial exactly once; a killed worker's trial is retried; a wrong database or role is one line naming the URL.

Heartbeats compare the server's clock with itself (``now()``), so the workers' clocks may
disagree. The server is the ``postgres_url`` fixture (tests/tune/conftest.py): QUANTA_POSTGRES_URL, or a
private throw-away server when PostgreSQL is installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

from quanta.errors import UserError
from quanta.tune.storage import HOST_ATTR, open_storage
from tests.tune.test_tune_storage import (
    TINY,
    check_a_killed_workers_trial_is_retried,
    check_workers_record_every_trial_once,
)

pytestmark = pytest.mark.usefixtures("one_thread")

optuna.logging.set_verbosity(optuna.logging.WARNING)

ROOT = Path(__file__).resolve().parents[2]

def test_workers_in_separate_processes_record_every_trial_once(fresh_postgres_url, tmp_path):
    """Three workers creating a study in a new database at once (each creates Optuna's tables
    unless another has): every trial once."""
    check_workers_record_every_trial_once(fresh_postgres_url, tmp_path, workers=3, trials=10)
    storage = open_storage(fresh_postgres_url, tmp_path)
    study_id = storage.get_study_id_from_name("s")
    assert HOST_ATTR in storage.get_study_system_attrs(study_id)
    assert storage.get_heartbeat_interval() is not None


@pytest.mark.slow
def test_quanta_tune_workers_share_a_postgres_study(postgres_url, tmp_path):
    """`quanta tune --worker` in two processes, then the finishing call: six trials, each run once.

    Slow: about 26 s of CPU in three `quanta` processes (the finishing one retrains and writes
    the report); 80 s wall measured on the shared 2-core machine under a load of 10.
    """
    (tmp_path / "tiny.yaml").write_text(TINY)
    scheme, rest = postgres_url.split("://", 1)
    url = f"{scheme}://{rest.split('@', 1)[0]}:sekrit@{rest.split('@', 1)[-1]}"  # trust: any password
    study = f"cli-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "quanta", "tune", "tiny.yaml", "--storage", url, "--study",
               study, "--out", "runs"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    workers = [subprocess.Popen([*command, "--worker"], cwd=tmp_path, text=True, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err for _, err in outputs]
    ran = [line for out, _ in outputs for line in out.splitlines() if line.startswith("trial ")]
    assert len(ran) == 6, ran
    final = subprocess.run(command, cwd=tmp_path, text=True, capture_output=True, timeout=300,
                           env=env)
    assert final.returncode == 0, final.stderr
    assert not [line for line in final.stdout.splitlines() if line.startswith("trial ")]
    folder = tmp_path / "runs" / "tiny-tune"
    trials = json.loads((folder / "trials.json").read_text())["trials"]
    assert sorted(trial["number"] for trial in trials) == list(range(6))
    assert {trial["state"] for trial in trials} == {"COMPLETE"}
    assert {trial["worker"].rsplit(":", 1)[1] for trial in trials} <= \
        {str(worker.pid) for worker in workers}
    search = (folder / "search.json").read_text()
    assert "sekrit" not in search and ":***@" in search
    assert (folder / "best.yaml").is_file() and not (folder / "study.db").exists()


def test_a_killed_workers_trial_fails_and_is_retried_on_postgres(postgres_url, tmp_path):
    check_a_killed_workers_trial_is_retried(postgres_url, tmp_path, f"k-{uuid.uuid4().hex[:8]}")


def test_an_unknown_database_is_one_line(postgres_url, tmp_path):
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(UserError, match=r'^--storage postgresql://.*/no_such_database: cannot '
                                        r'open the study database: .*"no_such_database" does '
                                        r"not exist[^\n]*$"):
        open_storage(url, tmp_path)


def test_an_unknown_role_is_one_line(postgres_url, tmp_path):
    scheme, rest = postgres_url.split("://", 1)
    url = f"{scheme}://intruder:guess@{rest.split('@', 1)[-1]}"
    with pytest.raises(UserError, match=r"^--storage postgresql://intruder:\*\*\*@.*: cannot open "
                                        r'the study database: .*"intruder"[^\n]*$') as error:
        open_storage(url, tmp_path)
    assert "guess" not in str(error.value)
