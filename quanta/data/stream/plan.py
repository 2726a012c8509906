"""The plan of a stream: chunks of files, the split of every row, the shard of every rank.

A **chunk** is a contiguous row range of one file, read in one call. The
**split** of a row (train, valid or test) is a hash of (seed, file index, row
index in the file), so it does not depend on the chunking, on which rows a
selection keeps, or on how many files are read at once. A **shard** is the
share of the training chunks one distributed rank reads: the chunks are dealt
round-robin in a seeded order, fixed for the run, so that ranks read disjoint
rows and their share does not change between epochs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quanta.errors import UserError

SPLIT_CODES = {"train": 0, "valid": 1, "test": 2}


@dataclass(frozen=True, order=True)
class Chunk:
    """Rows ``[start, stop)`` of file number ``file`` (``path``), labelled ``class_index`` if from class globs."""

    file: int
    path: str
    start: int
    stop: int
    class_index: int | None = None

    @property
    def rows(self) -> int:
        return self.stop - self.start


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of uint64 that scrambles every bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_uniforms(seed: int, file: int, rows: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per row, a pure function of (seed, file, row)."""
    with np.errstate(over="ignore"):
        key = _mix(np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(file))
        x = _mix(rows.astype(np.uint64) + key * np.uint64(0x9E3779B97F4A7C15))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def split_codes(seed: int, file: int, rows: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """0 (train), 1 (valid) or 2 (test) per row, drawn with probabilities ``fractions``."""
    bounds = np.cumsum(np.asarray(fractions, dtype=np.float64) / np.sum(fractions))[:2]
    return np.searchsorted(bounds, row_uniforms(seed, file, rows), side="right").astype(np.int8)


def shard(chunks: Sequence[Chunk], rank: int, world: int, seed: int) -> list[Chunk]:
    """The chunks rank ``rank`` of ``world`` reads: every ``world``-th of a seeded order."""
    if not 0 <= rank < world:
        raise UserError(f"rank {rank} is outside 0..{world - 1} (world size {world})")
    order = np.random.default_rng([seed, 7919]).permutation(len(chunks))
    return [chunks[i] for i in sorted(order[rank::world])]


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) as ``torchrun`` sets them in the environment; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(text: str | int | float) -> int:
    """Bytes from ``"2GB"``, ``"512 MiB"``, ``"auto"`` (half the machine's memory) or a number of bytes."""
    if isinstance(text, (int, float)):
        value = float(text)
    elif str(text).strip().lower() == "auto":
        return int(0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
        if not match or match.group(2).lower() not in UNITS:
            raise UserError(f"files.memory: '{text}' is not a size; use e.g. 512MB, 4GB, 2GiB or auto")
        value = float(match.group(1)) * UNITS[match.group(2).lower()]
    if value <= 0:
        raise UserError(f"files.memory: must be positive, received {text}")
    return int(value)


def plan_chunks(files: Sequence[tuple[str, int | None]], bounds: Sequence[list[tuple[int, int]]]) -> list[Chunk]:
    """Chunks of every file, in file order: ``files`` as (path, class index), ``bounds`` per file."""
    return [Chunk(index, path, start, stop, class_index)
            for index, ((path, class_index), ranges) in enumerate(zip(files, bounds, strict=True))
            for start, stop in ranges if stop > start]


def buffer_sizes(memory: int, work_row_bytes: float, row_bytes: float, workers: int) -> tuple[int, int]:
    """(chunk rows, shuffle-buffer rows) that keep a stream within ``memory`` bytes.

    ``work_row_bytes`` is the peak memory of reading and converting one row
    (measured on the probe), ``row_bytes`` the size of its arrays. Three
    tenths of the budget hold the chunks in flight (``workers + 1``); the
    shuffle buffer gets a fifth, as its merge, remainder and handed-out
    blocks take almost three times the rows it holds. The buffer holds at
    least four chunks, so that a batch mixes several of them.
    """
    buffer_rows = int(0.2 * memory / max(row_bytes, 1.0))
    chunk_rows = int(0.3 * memory / ((workers + 1) * max(work_row_bytes, 1.0)))
    chunk_rows = min(chunk_rows, buffer_rows // 4)
    if chunk_rows < 64:
        need = max(64 * (workers + 1) * work_row_bytes / 0.3, 4 * 64 * row_bytes / 0.2)
        raise UserError(f"files.memory: a budget of {memory / 1e6:.2f} MB is too small to stream rows of "
                        f"{row_bytes:,.0f} bytes; give at least {need / 1e6:.2f} MB")
    return chunk_rows, buffer_rows


def read_ahead(memory: int, work_row_bytes: float, largest_chunk: int, workers: int) -> int:
    """How many chunks may be in flight: ``workers + 1``, fewer when the file's own chunks
    (Parquet row groups, whole CSV files) are larger than planned; at least one."""
    fits = int(0.3 * memory / max(largest_chunk * work_row_bytes, 1.0))
    return max(1, min(workers + 1, fits))
