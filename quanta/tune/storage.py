"""Where a study lives: SQLite on one machine (the default), PostgreSQL for many machines.

:func:`open_storage` turns ``--storage`` into an Optuna storage:

- none: SQLite ``<study folder>/study.db``; ``sqlite:///PATH`` the same at PATH;
- ``postgresql://USER@HOST:PORT/DATABASE`` (or ``postgresql+psycopg://``) through psycopg 3.

Every storage beats a heartbeat (:data:`HEARTBEAT_INTERVAL`): a worker that dies (killed, out of
memory, its node gone) stops beating, and the next worker that starts a trial marks the dead
one's RUNNING trial FAIL after :data:`GRACE_PERIOD` and enqueues a copy of it (the same
parameters, ``failed_trial`` naming the original; at most :data:`MAX_RETRIES` times), so no
trial is left RUNNING and none is lost.

SQLite is safe for several worker processes of one machine on a local disk, and only there:
every transaction takes the write lock when it begins (``BEGIN IMMEDIATE``) and waits up to
:data:`BUSY_TIMEOUT` for it, so workers queue instead of failing on ``database is locked``.
A database on a network file system (its locks are not to be trusted), or a study created on
another host, is refused in one line pointing to PostgreSQL.
"""

from __future__ import annotations

import random
import re
import socket
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import optuna
import sqlalchemy.exc
from sqlalchemy import event

from quanta.errors import UserError

#: seconds between two heartbeats of a running trial: frequent enough that a dead worker is
#: noticed within a minute, rare enough to cost nothing (one tiny UPDATE per worker)
HEARTBEAT_INTERVAL = 10
#: seconds without a heartbeat after which a RUNNING trial counts as dead: six missed beats,
#: longer than :data:`BUSY_TIMEOUT` plus a beat, so a live worker waiting for a busy SQLite
#: database (or a short network outage) is never mistaken for a dead one
GRACE_PERIOD = 60
#: times a dead worker's trial is retried: a configuration that kills its worker every time
#: (out of memory) is then left FAIL instead of killing workers for ever
MAX_RETRIES = 3
#: seconds a SQLite transaction waits for another worker's write lock before failing
BUSY_TIMEOUT = 30
#: seconds a PostgreSQL connection attempt waits for the server
CONNECT_TIMEOUT = 10
#: times a worker opens a new database whose tables another worker is creating at that moment
CREATION_ATTEMPTS = 10

#: the study's system attributes naming the machine that created it: its host name, and the
#: boot id of its kernel (shared by the containers of one machine, whose host names differ)
HOST_ATTR = "quanta:host"
BOOT_ATTR = "quanta:boot_id"
#: where Linux tells the boot id
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

#: file systems whose locks SQLite cannot rely on (shared between machines, or FUSE mounts of
#: remote stores); ``fuse.*`` types are matched by their full name
NETWORK_FILE_SYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "davfs",
    "lustre", "gpfs", "beegfs", "ceph", "glusterfs", "orangefs", "pvfs2", "panfs", "wekafs",
    "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "fuse.cephfs", "fuse.s3fs", "fuse.gcsfuse",
    "fuse.rclone", "fuse.juicefs", "fuse.beegfs", "fuse.davfs2", "fuse.lizardfs", "fuse.moosefs",
})

#: the mount table read for the network file system check
MOUNTS = Path("/proc/mounts")

ALLOWED = ("sqlite:///PATH, postgresql://USER@HOST:PORT/DATABASE "
           "or postgresql+psycopg://USER@HOST:PORT/DATABASE")
POSTGRES_HINT = "--storage postgresql://USER@HOST:PORT/DATABASE"


def public_url(url: str) -> str:
    """``url`` with its password masked (``***``), in the userinfo and in a ``password=`` query."""
    masked = re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)
    if "?" not in masked:
        return masked
    head, query = masked.split("?", 1)
    pairs = [(key, "***" if key.lower() == "password" else value)
             for key, value in parse_qsl(query, keep_blank_values=True)]
    return f"{head}?{urlencode(pairs, safe='*')}"


def open_storage(url: str | None, folder: Path, *, heartbeat_interval: int = HEARTBEAT_INTERVAL,
                 grace_period: int = GRACE_PERIOD, mounts: Path | None = None):
    """The Optuna storage of ``--storage url`` (None: SQLite ``folder/study.db``), heartbeat on.

    A RUNNING trial whose worker stopped beating for ``grace_period`` seconds is failed and
    retried (:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`) when a worker next starts
    a trial. Refuses, in one line: an unknown scheme, SQLite on a network file system (from the
    ``mounts`` table, default :data:`MOUNTS`) or holding a study created on another host, and a PostgreSQL server that
    cannot be reached.
    """
    if url is None or not url.strip():
        return _sqlite(Path(folder) / "study.db", heartbeat_interval, grace_period, mounts)
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        return _sqlite(_sqlite_path(url), heartbeat_interval, grace_period, mounts)
    if scheme in ("postgresql", "postgresql+psycopg"):
        return _postgres(url, heartbeat_interval, grace_period)
    raise UserError(f"--storage must be {ALLOWED}; received {public_url(url)!r}")


def _sqlite_path(url: str) -> Path:
    """The database file of a ``sqlite:///PATH`` URL (relative to the working folder)."""
    rest = url.split("://", 1)[1]
    path = rest[1:] if rest.startswith("/") else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        raise UserError(f"--storage {url!r}: a SQLite study needs a file, sqlite:///PATH "
                        "(sqlite:////absolute/path.db or sqlite:///relative/path.db)")
    return Path(path).expanduser().absolute()


def _sqlite(path: Path, heartbeat_interval: int, grace_period: int, mounts: Path | None):
    """The SQLite storage at ``path``, refused where SQLite is unsafe."""
    _refuse_network_file_system(path, mounts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--storage: cannot create the study's folder {path.parent}: "
                        f"{error.strerror or error}") from None
    # sqlite3's own transaction control off: _immediate_transactions begins every transaction
    engine_kwargs = {"connect_args": {"timeout": BUSY_TIMEOUT, "isolation_level": None}}
    storage = _connect(f"sqlite:///{path}", str(path), heartbeat_interval, grace_period,
                       engine_kwargs)
    _refuse_other_host(storage, path)
    return storage


def _postgres(url: str, heartbeat_interval: int, grace_period: int):
    """The PostgreSQL storage at ``url``, through psycopg 3."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UserError(f"--storage {public_url(url)}: PostgreSQL needs psycopg 3; install it "
                        "with pip install 'quanta[postgres]'") from None
    driver_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return _connect(driver_url, public_url(url), heartbeat_interval, grace_period,
                    {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}})


def _connect(url: str, shown: str, heartbeat_interval: int, grace_period: int,
             engine_kwargs: dict):
    """The :class:`StudyStorage` at ``url``, heartbeat on; a failure as one line naming ``shown``.

    The first opening of a new database creates Optuna's tables; workers started at the same
    moment race on that (a table or a version row another one has just created), and the loser
    opens it again, finding what the winner made. Any other failure is reported at once, as
    are tables made by an Optuna version this one cannot read (with Optuna's advice).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for attempt in range(CREATION_ATTEMPTS):
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
            try:
                return StudyStorage(url, engine_kwargs=engine_kwargs,
                                    heartbeat_interval=heartbeat_interval,
                                    grace_period=grace_period,
                                    heartbeat_stale_trial_callback=retry)
            except sqlalchemy.exc.SQLAlchemyError as error:
                reason = _reason(error, url)
                if not _created_meanwhile(error) or attempt == CREATION_ATTEMPTS - 1:
                    break
            except RuntimeError as error:  # tables of another Optuna version: its advice
                if not str(error).startswith("The runtime optuna version"):
                    raise
                reason = str(error)
                break
            time.sleep(random.uniform(0.05, 0.5))
    raise UserError(f"--storage {shown}: cannot open the study database: {reason}")


def _created_meanwhile(error: Exception) -> bool:
    """Whether ``error`` says that another worker created the same schema object first."""
    text = str(getattr(error, "orig", None) or error).lower()
    return isinstance(error, sqlalchemy.exc.IntegrityError) or "already exists" in text


def _reason(error: Exception, url: str) -> str:
    """The database driver's message of ``error`` on one line, without any password."""
    text = str(getattr(error, "orig", None) or error)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)
    password = re.match(r"^[^:]+://[^/@:]*:([^/@]*)@", url)
    if password and password.group(1):
        text = text.replace(password.group(1), "***")
    return text[:300]


def mount_of(path: Path, mounts: Path | None = None) -> tuple[str, str] | None:
    """(mount point, file system type) holding ``path``: the longest mount point above it.

    None where the mount table cannot be read (not Linux).
    """
    try:
        lines = (MOUNTS if mounts is None else mounts).read_text().splitlines()
    except OSError:
        return None
    target = _resolved(path)
    best: tuple[str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescaped(fields[1])
        inside = point == "/" or target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    return best


def _resolved(path: Path) -> str:
    """``path`` with its links resolved, as far as it exists (the rest appended)."""
    path = Path(path).absolute()
    existing, rest = path, []
    while not existing.exists() and existing != existing.parent:
        rest.append(existing.name)
        existing = existing.parent
    return str(existing.resolve().joinpath(*reversed(rest)))


def _unescaped(field: str) -> str:
    """A mount point of /proc/mounts with its octal escapes (``\\040`` a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _refuse_network_file_system(path: Path, mounts: Path | None) -> None:
    mount = mount_of(path.parent, MOUNTS if mounts is None else mounts)
    if mount is not None and mount[1].lower() in NETWORK_FILE_SYSTEMS:
        raise UserError(f"--storage: the SQLite study {path} would be on a network file system "
                        f"({mount[1]} mounted at {mount[0]}), whose locks SQLite cannot trust; "
                        f"put it on a local disk (--out) or use {POSTGRES_HINT}")


def this_host() -> str:
    """The name of this machine, as recorded in a study."""
    return socket.gethostname()


def this_boot() -> str | None:
    """The boot id of this machine's kernel (None where there is none: not Linux)."""
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _refuse_other_host(storage, path: Path) -> None:
    """Refuse a SQLite study created on another machine: another host name, and another kernel
    (a container of this machine has its own host name but shares the boot id; this machine
    rebooted keeps its name)."""
    host, boot = this_host(), this_boot()
    for study in storage.get_all_studies():
        created_on = study.system_attrs.get(HOST_ATTR)
        created_boot = study.system_attrs.get(BOOT_ATTR)
        same_kernel = boot is not None and created_boot == boot
        if created_on is not None and created_on != host and not same_kernel:
            raise UserError(f"--storage: the SQLite study {path} ({study.study_name!r}) was "
                            f"created on host {created_on!r}, this is {host!r}: SQLite serves "
                            f"one machine; for workers on many machines use {POSTGRES_HINT}")


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _immediate_transactions(engine) -> None:
    """Every transaction of ``engine`` takes SQLite's write lock when it begins.

    With Python's sqlite3 transaction control off (``isolation_level=None``), SQLAlchemy's
    ``begin`` issues ``BEGIN IMMEDIATE``: a worker waits (busy timeout) for the lock instead of
    deadlocking on a read lock that cannot become a write lock, which SQLite reports at once as
    ``database is locked``.
    """
    if not event.contains(engine, "begin", _begin_immediate):
        event.listen(engine, "begin", _begin_immediate)


class StudyStorage(optuna.storages.RDBStorage):
    """Optuna's RDBStorage recording the host that creates a study; SQLite in immediate mode."""

    def __init__(self, url: str, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self._immediate()

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._immediate()

    def _immediate(self) -> None:
        if self.url.startswith("sqlite"):
            _immediate_transactions(self.engine)

    def create_new_study(self, directions, study_name=None) -> int:
        study_id = super().create_new_study(directions, study_name)
        self.set_study_system_attr(study_id, HOST_ATTR, this_host())
        self.set_study_system_attr(study_id, BOOT_ATTR, this_boot())
        return study_id


