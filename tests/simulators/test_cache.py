"""Tests of the data cache as a user meets it: ``quanta.data.load`` of a simulator.

The tracks source is the cheapest that caches (vectorised NumPy, in this
process). Each test points ``$QUANTA_CACHE`` at its own folder, damages the
entry in one way, loads again and checks: the same data come back, one warning
names the file, and the file is repaired (the next load reads it, silently,
without simulating).
"""

from __future__ import annotations

import json
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import quanta
from quanta.simulators import cache
from quanta.simulators.tracks import simulate as simulation

PARAMS = {"view": "hits", "size": 20, "seed": 5}


def load():
    return quanta.data.load("tracks", **PARAMS)


def entry(folder: Path) -> Path:
    (path,) = folder.glob("tracks-*.npz")
    return path


def members(path: Path) -> dict[str, np.ndarray]:
    """Every member of an ``.npz`` (checksum included), read without pickle."""
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def same_data(first, second) -> None:
    for name in ("x", "y", "mask", "particle", "n_tracks"):
        np.testing.assert_array_equal(first[name], second[name])


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def object_array(path: Path) -> None:
    stored = members(path)
    np.savez(path, **stored, extra=np.array([{"run": 1}, None], dtype=object))  # pickled member


def only_an_object_array(path: Path) -> None:
    np.savez(path, x=np.array([{"run": 1}], dtype=object))


def wrong_checksum(path: Path) -> None:
    stored = members(path)  # a valid archive whose data no longer match the recorded checksum
    stored["hits"] = stored["hits"] + np.float32(1.0)
    np.savez(path, **stored)


def missing_array(path: Path) -> None:
    stored = members(path)
    del stored["hits"]
    np.savez(path, **stored)


def no_checksum(path: Path) -> None:
    stored = members(path)  # e.g. written by an older quanta, or not by quanta at all
    del stored[cache.CHECKSUM]
    np.savez(path, **stored)


def not_an_archive(path: Path) -> None:
    with path.open("wb") as stream:
        np.save(stream, np.arange(10))


def unreadable(path: Path) -> None:
    path.unlink()
    path.mkdir()  # open() fails with IsADirectoryError


DAMAGE = [truncate, empty, garbage, object_array, only_an_object_array, wrong_checksum, missing_array,
          no_checksum, not_an_archive]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_damaged_entry_is_rebuilt_with_one_warning(folder, damage, monkeypatch):
    first = load()
    path = entry(folder)
    stored = members(path)
    damage(path)

    with pytest.warns(cache.DamagedCacheWarning) as caught:
        again = load()
    same_data(first, again)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(path) in message and "damaged" in message and "rebuilding" in message
    assert "\n" not in message

    repaired = members(path)  # the file holds the same arrays again, and verifies
    assert repaired.keys() == stored.keys()
    for key in stored:
        np.testing.assert_array_equal(repaired[key], stored[key])

    def fail(*args, **kwargs):
        raise AssertionError("a repaired entry was simulated again")

    monkeypatch.setattr(simulation, "simulate", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same_data(first, load())
    assert {p.name for p in folder.iterdir()} == {path.name, path.with_suffix(".json").name}


def test_unreadable_entry_is_rebuilt(folder):
    first = load()
    path = entry(folder)
    unreadable(path)
    with pytest.warns(cache.DamagedCacheWarning) as caught:
        same_data(first, load())  # a folder cannot be replaced by the rename: left uncached, warned
    assert len(caught) == 2 and all(str(path) in str(w.message) for w in caught)
    assert "damaged" in str(caught[0].message) and "not cached" in str(caught[1].message)
    path.rmdir()
    load()
    assert path.is_file()


def test_entry_records_its_checksum_and_parameters(folder):
    load()
    path = entry(folder)
    stored = members(path)
    recorded = str(stored.pop(cache.CHECKSUM))
    assert recorded == cache.checksum(stored) and len(recorded) == 64
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["source"] == "tracks" and record["size"] == PARAMS["size"]
    assert record["seed"] == PARAMS["seed"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_new_files_follow_the_umask(folder, umask):
    previous = os.umask(umask)
    try:
        load()
    finally:
        os.umask(previous)
    path = entry(folder)
    for made in (path, path.with_suffix(".json")):
        assert stat.S_IMODE(made.stat().st_mode) == 0o666 & ~umask, made


def test_unwritable_cache_warns_and_returns_the_data(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("QUANTA_CACHE", str(blocker / "cache"))  # below a file: cannot be created
    with pytest.warns(cache.DamagedCacheWarning, match="not cached") as caught:
        data = load()
    assert len(caught) == 1 and str(blocker / "cache") in str(caught[0].message)
    assert data.x.shape[0] == PARAMS["size"]


def test_concurrent_writers_and_readers_stay_consistent(folder):
    """Threads building, renaming and reading one entry at once: no damage is ever seen."""
    params = {"version": "test", "size": 3}
    built = {"x": np.arange(200_000, dtype=np.float32).reshape(1000, 200), "n": np.arange(1000)}

    def build():
        return {key: value.copy() for key, value in built.items()}

    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(cache.cached("concurrent", params, build))
                path = cache.cache_dir() / f"{cache.cache_key('concurrent', params)}.npz"
                if path.exists():  # a second writer while others read
                    cache._store(path, build(), {"source": "concurrent", **params})
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors and not [w for w in caught if issubclass(w.category, cache.DamagedCacheWarning)]
    assert len(results) == 20
    for result in results:
        assert result.keys() == built.keys()
        for key in built:
            np.testing.assert_array_equal(result[key], built[key])
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and not any(name.endswith(".tmp") for name in names)


def test_runs_needing_the_same_new_entry_at_once_build_it_once(folder):
    """Four builders of one new entry (as two experiments or two test workers would be): one
    simulates, the others wait for its lock and read its file; no lock file is left behind."""
    import time

    calls = []

    def build():
        calls.append(1)
        time.sleep(0.3)  # long enough for every other thread to arrive while it builds
        return {"x": np.arange(10.0)}

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.cached("once", {"n": 1}, build)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 4
    assert all(np.array_equal(result["x"], np.arange(10.0)) for result in results)
    assert not list(folder.glob(".*.lock"))
