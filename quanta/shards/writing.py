"""One shard: generated through the source registry in a private cache, written, recorded."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np

from quanta.errors import UserError
from quanta.shards.manifest import file_sha256, read_json, record_path, write_json, write_manifest
from quanta.shards.plan import FORMATS, Shard, ShardedDataset, shard_seed


def write_shard(dataset: ShardedDataset, index: int) -> Shard:
    """Shard ``index`` of ``dataset``: skipped when present and intact, else generated and written."""
    present = _present(dataset, index)
    if present is not None:
        return present
    start = time.perf_counter()
    with private_cache():
        data = generate_events(dataset, dataset.sizes[index], shard_seed(dataset.seed, index))
    columns = shard_columns(data, dataset)
    seconds = time.perf_counter() - start
    from quanta.data.files.writers import write_columns

    path = dataset.out / dataset.file_name(index)
    write_columns(path, FORMATS[dataset.format][0], columns, str(path))
    digest = file_sha256(path)
    rows = len(data.arrays["x"])
    record = {**dataset.identity(), "index": index, "file": path.name, "rows": rows, "sha256": digest,
              "seconds": round(seconds, 3)}
    write_json(record_path(dataset, index), record)
    write_manifest(dataset.out)
    return Shard(index, path, rows, digest, seconds, skipped=False)


def generate_events(dataset: ShardedDataset, size: int, seed: int) -> Any:
    """The source's events through the registry (its checks), with the shard's size and seed."""
    from quanta.data import SOURCES

    return SOURCES.create(dataset.source, where=f"datasets generate {dataset.source}",
                          **dataset.parameters, **dataset.runtime, size=size, seed=seed)


def shard_columns(data: Any, dataset: ShardedDataset) -> dict[str, np.ndarray]:
    """The named arrays of a shard's file: ``x[N, F]`` as one column per named feature, the rest as given.

    Unnamed features (a waveform's samples) are one dataset ``x[N, F]`` in HDF5, which the files
    source reads as the columns ``x_0 ... x_{F-1}`` in order, and those columns in Parquet.
    """
    arrays = data.arrays
    x = arrays["x"]
    columns: dict[str, np.ndarray] = {}
    names = [str(name) for name in data.feature_names or []]
    named = x.ndim == 2 and len(names) == x.shape[1] and len(set(names)) == len(names)
    if named:
        columns = {name: x[:, i] for i, name in enumerate(names)}
    elif x.ndim == 2 and dataset.format == "parquet":  # Parquet keeps its columns' order
        columns = {f"x_{i}": x[:, i] for i in range(x.shape[1])}
    else:  # HDF5 lists datasets by name (x_10 before x_2): x whole, which the reader reads as x_0, x_1, ...
        columns["x"] = x
    for name, values in arrays.items():
        if name == "x" or (name in columns and np.array_equal(columns[name], values)):
            continue  # an array that is also a feature (hzz's m4l) is one column, read as either
        if name in columns:
            raise UserError(f"datasets generate {dataset.source}: the array '{name}' has the name of a "
                            "feature but other values; one file cannot hold both")
        columns[name] = values
    if dataset.format == "parquet":
        for name, values in columns.items():
            if values.ndim > 1:
                raise UserError(f"--format parquet: {dataset.source} gives '{name}' of shape "
                                f"{list(values.shape[1:])} per event and Parquet holds one number per "
                                "column; use --format h5")
    return columns


@contextlib.contextmanager
def private_cache():
    """``$QUANTA_CACHE`` pointing to a new temporary folder for the block, removed after it."""
    from quanta.simulators.cache import CACHE_VARIABLE

    folder = tempfile.mkdtemp(prefix="quanta-shard-cache-")
    before = os.environ.get(CACHE_VARIABLE)
    os.environ[CACHE_VARIABLE] = folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CACHE_VARIABLE, None)
        else:
            os.environ[CACHE_VARIABLE] = before
        shutil.rmtree(folder, ignore_errors=True)


def _present(dataset: ShardedDataset, index: int) -> Shard | None:
    """Shard ``index`` as found on disk, when its record is this data set's and its file is intact."""
    record = read_json(record_path(dataset, index))
    path = dataset.out / dataset.file_name(index)
    if record is None or not path.is_file() or record.get("file") != path.name:
        return None
    if file_sha256(path) != record.get("sha256"):
        return None
    return Shard(index, path, int(record.get("rows", 0)), record["sha256"], 0.0, skipped=True)




__all__ = ["generate_events", "private_cache", "shard_columns", "write_shard"]
