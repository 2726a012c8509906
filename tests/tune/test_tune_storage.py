"""The studies' storage: SQLite by default, heartbeats that retry a dead worker's trial, SQLite
refused where unsafe (a network file system, a second machine), PostgreSQL URLs with their
passwords masked and their connection failures in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

from quanta.errors import UserError
from quanta.tune import storage as storage_module
from quanta.tune.storage import HOST_ATTR, mount_of, open_storage, public_url
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

optuna.logging.set_verbosity(optuna.logging.WARNING)

ROOT = Path(__file__).resolve().parents[2]

#: a tiny experiment: logistic regression on the bundled digits, a trial in a fraction of a second
TINY = """\
name: tiny
seed: 1
task: multiclass
data: {source: digits}
methods:
  - {name: lr, method: logistic_regression, params: {C: 1.0, max_iter: 200}}
search:
  sampler: random
  trials: 6
  objective: accuracy
  space:
    methods.lr.params.C: {float: [0.001, 10.0], log: true}
"""


def _python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """``script`` in a fresh interpreter that imports quanta from this checkout."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env,
                            text=True, **kwargs)


def test_default_is_sqlite_in_the_study_folder(tmp_path):
    folder = tmp_path / "runs" / "mlp-tune"
    storage = open_storage(None, folder)
    study = optuna.create_study(storage=storage, study_name="mlp")
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    assert (folder / "study.db").is_file()
    assert storage.get_heartbeat_interval() == storage_module.HEARTBEAT_INTERVAL
    assert storage.grace_period == storage_module.GRACE_PERIOD
    again = optuna.load_study(study_name="mlp", storage=open_storage(None, folder))
    assert [trial.state for trial in again.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    attrs = storage.get_study_system_attrs(study._study_id)
    assert attrs[HOST_ATTR] == storage_module.this_host()
    assert attrs[storage_module.BOOT_ATTR] == storage_module.this_boot()


def test_sqlite_url_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = open_storage("sqlite:///studies/s.db", tmp_path / "unused")
    optuna.create_study(storage=storage, study_name="s")
    assert (tmp_path / "studies" / "s.db").is_file()
    assert not (tmp_path / "unused").exists()
    absolute = open_storage(f"sqlite:///{tmp_path}/studies/s.db", tmp_path)
    assert optuna.get_all_study_names(absolute) == ["s"]


def check_a_killed_workers_trial_is_retried(url: str | None, folder: Path, name: str) -> None:
    """A worker killed (SIGKILL) mid-trial stops beating: the next worker fails its trial and
    runs the enqueued copy with the same parameters; nothing stays RUNNING."""
    worker = _python("""
        import sys, time
        from pathlib import Path
        import optuna
        from quanta.tune.storage import open_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        url, folder, name = sys.argv[1] or None, Path(sys.argv[2]), sys.argv[3]
        storage = open_storage(url, folder, heartbeat_interval=1, grace_period=2)
        study = optuna.create_study(storage=storage, study_name=name)

        def objective(trial):
            trial.suggest_float("x", 0, 1)
            print("running", flush=True)
            time.sleep(600)

        study.optimize(objective, n_trials=1)
        """, url or "", str(folder), name, stdout=subprocess.PIPE)
    try:
        assert worker.stdout.readline().strip() == "running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    storage = open_storage(url, folder, heartbeat_interval=1, grace_period=2)
    study = optuna.load_study(study_name=name, storage=storage)
    [dead] = study.trials
    assert dead.state == optuna.trial.TrialState.RUNNING
    time.sleep(3)  # past the grace period
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    first, retry = study.trials
    assert first.state == optuna.trial.TrialState.FAIL
    assert retry.state == optuna.trial.TrialState.COMPLETE
    assert retry.params == first.params
    assert retry.system_attrs["failed_trial"] == 0  # RetryHeartbeatStaleTrialCallback's record


def test_a_killed_workers_trial_fails_and_is_retried(tmp_path):
    check_a_killed_workers_trial_is_retried(None, tmp_path, "s")


def check_workers_record_every_trial_once(url: str | None, folder: Path, workers: int = 2,
                                          trials: int = 15) -> None:
    """``workers`` processes open a new study at the same moment (a file they wait for) and run
    ``trials`` trials each: every trial is recorded once, none fails, none is lost."""
    script = """
        import sys, time
        from pathlib import Path
        import optuna
        from quanta.tune.storage import open_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        url, folder, trials = sys.argv[1] or None, Path(sys.argv[2]), int(sys.argv[3])
        while not (folder / "go").exists():
            time.sleep(0.005)
        study = optuna.create_study(storage=open_storage(url, folder), study_name="s",
                                    load_if_exists=True, sampler=optuna.samplers.RandomSampler())
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=trials)
        """
    started = [_python(script, url or "", str(folder), str(trials), stderr=subprocess.PIPE)
               for _ in range(workers)]
    time.sleep(1.0)  # the interpreters start, then wait for the file
    (folder / "go").touch()
    errors = [worker.communicate(timeout=180)[1] for worker in started]
    assert [worker.returncode for worker in started] == [0] * workers, errors
    study = optuna.load_study(study_name="s", storage=open_storage(url, folder))
    assert sorted(trial.number for trial in study.trials) == list(range(workers * trials))
    assert {trial.state for trial in study.trials} == {optuna.trial.TrialState.COMPLETE}
    assert len({trial.params["x"] for trial in study.trials}) == workers * trials


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning",
                            "ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_a_trial_that_kills_its_worker_every_time_is_given_up(tmp_path):
    """After MAX_RETRIES retries the trial stays FAIL and the study samples a new one."""
    import sqlite3

    storage = open_storage(None, tmp_path, heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="s")
    rounds = storage_module.MAX_RETRIES + 2
    for _ in range(rounds):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        storage.record_heartbeat(trial._trial_id)  # its worker beat once, then died
        with sqlite3.connect(tmp_path / "study.db") as connection:
            connection.execute("UPDATE trial_heartbeats SET heartbeat = '2000-01-01 00:00:00'")
        optuna.storages.fail_stale_trials(study)
    *failed, waiting = study.get_trials()  # the last: the retry of the new configuration
    assert [trial.state for trial in failed] == [optuna.trial.TrialState.FAIL] * rounds
    assert waiting.state == optuna.trial.TrialState.WAITING
    assert [trial.params == failed[0].params for trial in failed] == \
        [True] * (storage_module.MAX_RETRIES + 1) + [False]
    assert waiting.params == failed[-1].params


def test_local_workers_share_a_sqlite_study(tmp_path):
    """Three workers creating one new SQLite study at once: no 'database is locked', no 'table
    already exists', every trial once."""
    check_workers_record_every_trial_once(None, tmp_path, workers=3, trials=10)


MOUNTS = """\
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 / ext4 rw,relatime 0 0
server:/export/home {home} nfs4 rw,relatime,vers=4.2 0 0
/dev/sdb1 {home}/scratch xfs rw,relatime 0 0
//nas/share {home}/with\\040space cifs rw 0 0
"""


def test_sqlite_on_a_network_file_system_is_refused(tmp_path):
    mounts = tmp_path / "mounts"
    home = tmp_path / "home"
    mounts.write_text(MOUNTS.format(home=home))
    assert mount_of(home / "me" / "runs", mounts) == (str(home), "nfs4")
    assert mount_of(home / "scratch" / "runs", mounts) == (f"{home}/scratch", "xfs")
    assert mount_of(home / "with space" / "x", mounts) == (f"{home}/with space", "cifs")
    assert mount_of(home.parent / "homework", mounts) == ("/", "ext4")  # a prefix, not a parent
    with pytest.raises(UserError, match=r"network file system \(nfs4 mounted at .*"
                                        r"--storage postgresql://"):
        open_storage(None, home / "me" / "mlp-tune", mounts=mounts)
    with pytest.raises(UserError, match=r"with space/s\.db would be on a network file system "
                                        r"\(cifs"):
        open_storage(f"sqlite:///{home}/with space/s.db", tmp_path, mounts=mounts)
    assert not (home / "me").exists()
    open_storage(None, home / "scratch" / "mlp-tune", mounts=mounts)  # local disk under the NFS


def test_a_link_into_a_network_file_system_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "link").symlink_to(shared)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nfs:/ {shared} lustre rw 0 0\n")
    with pytest.raises(UserError, match=r"lustre mounted at"):
        open_storage(None, tmp_path / "link" / "new" / "mlp-tune", mounts=mounts)


def test_a_sqlite_study_from_another_host_is_refused(tmp_path, monkeypatch):
    optuna.create_study(storage=open_storage(None, tmp_path), study_name="mlp")
    monkeypatch.setattr(storage_module, "this_host", lambda: "node-b")
    open_storage(None, tmp_path)  # a container of this machine: another name, the same kernel
    monkeypatch.setattr(storage_module, "this_boot", lambda: "another-kernel")
    with pytest.raises(UserError, match=r"study\.db \('mlp'\) was created on host '.+', this is "
                                        r"'node-b'.*--storage postgresql://"):
        open_storage(None, tmp_path)


def test_passwords_are_masked():
    assert public_url("postgresql://ana:s3cr:t@db.lab:5432/quanta") == \
        "postgresql://ana:***@db.lab:5432/quanta"
    assert public_url("postgresql+psycopg://ana@db.lab/quanta?password=x&sslmode=require") == \
        "postgresql+psycopg://ana@db.lab/quanta?password=***&sslmode=require"
    assert public_url("postgresql://ana@db.lab/quanta") == "postgresql://ana@db.lab/quanta"
    assert public_url("sqlite:////runs/study.db") == "sqlite:////runs/study.db"


@pytest.mark.parametrize("url", ["mysql://ana:pw@db/quanta", "study.db", "redis://db:6379"])
def test_an_unknown_scheme_is_refused(url, tmp_path):
    with pytest.raises(UserError, match=r"^--storage must be sqlite:///PATH, postgresql://") as e:
        open_storage(url, tmp_path)
    assert "pw" not in str(e.value)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_sqlite_url_without_a_file_is_refused(url, tmp_path):
    with pytest.raises(UserError, match=r"a SQLite study needs a file, sqlite:///PATH"):
        open_storage(url, tmp_path)


def test_an_unreachable_postgres_is_one_line(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://ana:hunter2@127.0.0.1:{port}/quanta"
    with pytest.raises(UserError) as error:
        open_storage(url, tmp_path)
    message = str(error.value)
    assert message.startswith(f"--storage postgresql://ana:***@127.0.0.1:{port}/quanta: cannot "
                              "open the study database: ")
    assert "refused" in message.lower() and "\n" not in message and "hunter2" not in message


def test_a_file_that_is_no_study_database_is_one_line(tmp_path):
    (tmp_path / "study.db").write_text("notes, not a database\n" * 100)
    with pytest.raises(UserError, match=r"study\.db: cannot open the study database: file is not "
                                        r"a database$"):
        open_storage(None, tmp_path)


def test_tables_of_another_optuna_version_are_one_line(tmp_path):
    import sqlite3

    optuna.create_study(storage=open_storage(None, tmp_path), study_name="s")
    with sqlite3.connect(tmp_path / "study.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'v3.0.0.a'")
    with pytest.raises(UserError, match=r"study\.db: cannot open the study database: The runtime "
                                        r"optuna version .* optuna storage upgrade"):
        open_storage(None, tmp_path)


def test_quanta_tune_refuses_an_unknown_storage_in_one_line(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    done = quanta_here("tune", "tiny.yaml", "--storage", "mysql://ana:pw@db/quanta", "--out",
                       "runs", cwd=tmp_path)
    assert done.returncode == 2
    assert "--storage must be sqlite:///PATH, postgresql://USER@HOST:PORT/DATABASE" in done.stderr
    assert "mysql://ana:***@db/quanta" in done.stderr and ":pw@" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_quanta_tune_refuses_sqlite_on_nfs_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "tiny.yaml").write_text(TINY)
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nfiler:/vol {tmp_path / 'runs'} nfs rw 0 0\n")
    monkeypatch.setattr(storage_module, "MOUNTS", mounts)
    done = quanta_here("tune", "tiny.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2
    assert "tiny-tune/study.db would be on a network file system (nfs mounted at" in done.stderr
    assert "--storage postgresql://" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
