"""Fixtures of the tuning tests: a PostgreSQL server for the studies of many machines.

``postgres_url`` is ``QUANTA_POSTGRES_URL`` when set; else a private throw-away server started
from PostgreSQL's binaries (Debian's ``/usr/lib/postgresql/<version>/bin``, or ``initdb`` on the
PATH), listening only on 127.0.0.1 on a free port, stopped and removed at the end; else the test
is skipped, saying why, unless ``QUANTA_REQUIRE_POSTGRES=1`` (CI), which fails it instead.
``fresh_postgres_url`` is a new empty database on that server for one test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

#: the database created in the private server
DATABASE = "quanta_test"
#: the role the private server is initialised with (trust authentication, 127.0.0.1 only)
ROLE = "quanta"


def _binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: the newest Debian one, else the PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parent.parent.name)
                   if Path(path).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _server_user() -> str | None:
    """The unprivileged user that runs the server when the tests run as root (PostgreSQL refuses
    root): ``postgres`` (Debian's package creates it), else ``nobody``; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a 'postgres' nor a 'nobody' user")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("QUANTA_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"QUANTA_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL URL for studies: QUANTA_POSTGRES_URL, or a private server for the session."""
    given = os.environ.get("QUANTA_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg 3 is not installed (pip install 'quanta[postgres]')")
    binaries = _binaries()
    if binaries is None:
        _unavailable("PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql) "
                     "and QUANTA_POSTGRES_URL is not set")
    user = _server_user()
    as_user = ["runuser", "-u", user, "--"] if user else []
    root = Path(tempfile.mkdtemp(prefix="quanta-postgres-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, log, port = root / "data", root / "server.log", _free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], cwd=root, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}{tail}")

    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8",
            "--no-sync")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
            "-w", "-t", "60", "start")
        with psycopg.connect(f"postgresql://{ROLE}@127.0.0.1:{port}/postgres",
                             autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], cwd=root, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres_url(postgres_url):
    """A new, empty database on the server of ``postgres_url``, dropped after the test; the
    ``postgres_url`` database itself where its role may not create databases."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    given = make_url(postgres_url)
    server = given.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"quanta_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.errors.InsufficientPrivilege:
        yield postgres_url
        return
    try:
        yield given.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
