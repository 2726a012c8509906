"""The manifest of a folder of shards: one record per shard, merged on read.

Each shard's process writes its own record, ``DIR/manifest.d/<file stem>.json``,
atomically once its file is in place, so shards written by separate processes
on separate machines never write one file at once, and no file lock is needed
(network file systems often lack working ones). :func:`read_manifest` merges
the records; ``DIR/manifest.json`` is that merge, rewritten after every shard:
each writer reads the records again after its rewrite and rewrites until no
record appeared meanwhile, so the last rewrite of all holds every finished
shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from quanta.errors import UserError
from quanta.shards.plan import FORMATS, ShardedDataset

MANIFEST = "manifest.json"
RECORDS = "manifest.d"  # one record per shard, written by the shard's process


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a folder of shards, merged from the shards' records.

    ``{source, parameters, seed, size, shards, sizes, format, quanta, files (the glob),
    rows (written so far), complete, written: [{index, file, rows, sha256}, ...]}``.
    """
    folder = Path(folder)
    return _merged(folder, _records(folder))


def _merged(folder: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest of ``records`` (see :func:`read_manifest`)."""
    if not records:
        raise UserError(f"{folder}: holds no shards of quanta datasets generate (no {RECORDS}/)")
    first = records[0]
    identity = {key: first[key] for key in ("source", "parameters", "seed", "size", "shards", "sizes",
                                            "format", "quanta")}
    written = [{key: record[key] for key in ("index", "file", "rows", "sha256")} for record in records]
    suffix = FORMATS.get(first["format"], ("", ""))[1]
    return {**identity, "files": f"{first['source']}-*{suffix}", "rows": sum(r["rows"] for r in written),
            "complete": len(written) == first["shards"], "written": written}


def write_manifest(folder: Path) -> None:
    """``folder/manifest.json`` rewritten from the records until no record appears during the rewrite."""
    records = None
    while True:
        found = _records(folder)
        if found == records:
            return
        records = found
        write_json(folder / MANIFEST, _merged(folder, records))


def _records(folder: Path) -> list[dict[str, Any]]:
    """Every shard's record in ``folder``, by index (unreadable records are left out: rewritten later)."""
    found = []
    for path in sorted((folder / RECORDS).glob("*.json")):
        record = read_json(path)
        if isinstance(record, dict) and isinstance(record.get("index"), int):
            found.append(record)
    return sorted(found, key=lambda record: record["index"])


def record_path(dataset: ShardedDataset, index: int) -> Path:
    return dataset.out / RECORDS / f"{Path(dataset.file_name(index)).stem}.json"


def check_folder(dataset: ShardedDataset) -> None:
    """The folder can take these shards: not a file, and holding no shards of another data set."""
    out = dataset.out
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a folder for the shards")
    try:
        (out / RECORDS).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out {out}: cannot be written ({error.strerror or type(error).__name__})") from None
    ours = json.loads(json.dumps(dataset.identity()))
    for record in _records(out):
        theirs = {key: record.get(key) for key in ours}
        if theirs != ours:
            raise UserError(f"--out {out}: holds shard {record['index']} of another data set "
                            f"({_difference(theirs, ours)}); write these shards to another folder")


def _difference(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    """The first difference of two data sets' identities, as ``key: found, not asked``."""
    for key in ours:
        if key == "parameters" and isinstance(theirs.get(key), dict):
            for name in sorted({*theirs[key], *ours[key]}):
                if theirs[key].get(name) != ours[key].get(name):
                    return f"{name} {theirs[key].get(name)!r}, not {ours[key].get(name)!r}"
        elif theirs.get(key) != ours[key]:
            return f"{key} {theirs.get(key)!r}, not {ours[key]!r}"
    return "different records"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, through a temporary file and a rename (readers see all or nothing)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(json.dumps(value, indent=1) + "\n")
        os.replace(temporary, path)
    except OSError as error:
        raise UserError(f"{path}: cannot be written ({error.strerror or type(error).__name__})") from None
    finally:
        if temporary.exists():
            temporary.unlink()




__all__ = ["MANIFEST", "RECORDS", "check_folder", "file_sha256", "read_json", "read_manifest", "record_path",
           "write_json", "write_manifest"]
