"""On-disk cache of generated data, keyed by the parameters that produced it.

Simulated data sets are expensive; the second run with the same parameters
reads them back at once. The cache lives in ``$QUANTA_CACHE`` if set, else
``~/.cache/quanta``: one ``<source>-<key>.npz`` per entry, read with
``allow_pickle=False``, and a ``.json`` beside it recording the parameters
(for people; it is never read back).

Every entry is verified when read. The ``.npz`` holds, besides the arrays, the
SHA-256 of their names, dtypes, shapes and bytes (member :data:`CHECKSUM`), so
the data and their check are one file and one atomic rename (temporary file in
the same folder, then ``os.replace``) commits both: concurrent processes
writing the same entry each rename a complete, self-consistent file, and a
reader never pairs one writer's data with another's check. A truncated or
unreadable file, a wrong or missing checksum, object arrays or missing arrays
give one :class:`DamagedCacheWarning` naming the file, and the entry is rebuilt
and replaced; never a traceback. An entry is built under a lock file beside it
(``fcntl``), so that processes needing the same new entry at once build it once. Files are created with mode ``0o666`` less the
process umask (``0644`` under umask 022, ``0664`` under 002), so a group's
shared cache is readable by the group. A cache that cannot be written (a
read-only folder, a full disk) gives a warning too, and the data are returned
uncached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VARIABLE = "QUANTA_CACHE"

#: the ``.npz`` member holding the SHA-256 of the other members (a unicode scalar, no pickle)
CHECKSUM = "__quanta_sha256__"


class DamagedCacheWarning(UserWarning):
    """A cache entry could not be used (damaged) or stored; it is rebuilt, or left uncached."""


def cache_dir() -> Path:
    """The cache folder (``$QUANTA_CACHE`` or ``~/.cache/quanta``)."""
    root = os.environ.get(CACHE_VARIABLE)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "quanta"


def cache_key(name: str, params: dict[str, Any]) -> str:
    """A stable file stem for ``name`` generated with ``params``."""
    blob = json.dumps(params, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def cached(
    name: str, params: dict[str, Any], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Arrays for ``(name, params)``: read from the cache (verified), or built and stored."""
    path = cache_dir() / f"{cache_key(name, params)}.npz"
    arrays = _stored(path, warn=False)
    if arrays is not None:
        return arrays
    with _building(path):  # another process building this entry is waited for, then read
        arrays = _stored(path, warn=True)
        if arrays is not None:
            return arrays
        arrays = build()
        try:
            _store(path, arrays, {"source": name, **params})
        except OSError as error:
            _warn(f"cannot write cache file {path} ({_reason(error)}); the data are not cached")
    return arrays


def _stored(path: Path, warn: bool) -> dict[str, np.ndarray] | None:
    """The verified entry at ``path``, or None (absent, or damaged: said once, when ``warn``)."""
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        return _read(path)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure to read our own file means rebuild
        if warn:
            _warn(f"cache file {path} is damaged ({_reason(error)}); rebuilding it")
        return None


@contextlib.contextmanager
def _building(path: Path) -> Iterator[None]:
    """Hold ``.<entry>.lock`` beside ``path`` while the entry is built (``fcntl``, released on exit).

    Two runs that need the same new entry at once (two experiments, two test workers) build it
    once: the second waits for the first and reads its file. The lock file is removed before it
    is released (a process arriving later finds the entry, or at worst builds it again, which
    the atomic writes allow). Where the lock cannot be taken (a read-only folder, no ``fcntl``)
    the entry is built without it.
    """
    lock = path.with_name(f".{path.stem}.lock")
    try:
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        try:
            yield
        finally:  # removed before it is released: a waiter then finds the entry written
            with contextlib.suppress(OSError):
                lock.unlink()


def checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the arrays' names, dtypes, shapes and contents, independent of order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.asarray(arrays[key])
        header = json.dumps([key, str(np.lib.format.dtype_to_descr(array.dtype)), array.shape,
                             array.nbytes])
        digest.update(header.encode() + b"\n")
        digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()


def _read(path: Path) -> dict[str, np.ndarray]:
    """The verified arrays of ``path``; raises on any damage."""
    with open(path, "rb") as stream:  # ours to close: np.load leaks a file it fails to open as zip
        stored = np.load(stream, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with stored:
            arrays = {key: stored[key] for key in stored.files}
    recorded = arrays.pop(CHECKSUM, None)
    if recorded is None:
        raise ValueError("no checksum")
    if recorded.shape != () or recorded.dtype.kind != "U" or str(recorded) != checksum(arrays):
        raise ValueError("wrong checksum")
    return arrays


def _store(path: Path, arrays: dict[str, np.ndarray], record: dict[str, Any]) -> None:
    """Write ``arrays`` (with their checksum) to ``path``, then the ``.json`` record, atomically."""
    if CHECKSUM in arrays:
        raise ValueError(f"'{CHECKSUM}' is reserved for the cache's checksum")
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {**arrays, CHECKSUM: np.array(checksum(arrays))}
    _write_atomically(path, lambda stream: np.savez(stream, allow_pickle=False, **members))
    text = json.dumps(record, indent=1, default=str).encode()
    _write_atomically(path.with_suffix(".json"), lambda stream: stream.write(text))


def _write_atomically(path: Path, write: Callable[[Any], object]) -> None:
    """Write ``path`` through a temporary file beside it, created honouring the umask, then rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    handle = os.open(temporary, flags, 0o666)  # the umask takes its bits off, as for any new file
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def _reason(error: BaseException) -> str:
    """A short one-line description of ``error``."""
    text = " ".join(str(error).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _warn(message: str) -> None:
    """One warning line, attributed to the simulator that asked for the data."""
    warnings.warn(message, DamagedCacheWarning, stacklevel=3)
