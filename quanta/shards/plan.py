"""The plan of a sharded data set: shard sizes, shard seeds, the resolved source parameters.

See :mod:`quanta.shards` for what a shard is and what is guaranteed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanta.errors import UserError

FORMATS = {"h5": ("hdf5", ".h5"), "parquet": ("parquet", ".parquet")}
SEED_LIMIT = 2**31  # seeds and shard indices below this map one-to-one to shard seeds
SHARD_SEED_BASE = 2**62  # above every seed a person types
RUNTIME = ("workers", "progress")  # source parameters that do not change the events
NOT_SIMULATED = {"files": "reads your own files", "digits": "is a bundled data set of 1,797 images"}


def shard_sizes(size: int, shards: int) -> list[int]:
    """``size`` events in ``shards`` shards as evenly as possible, the first ``size % shards`` one larger."""
    base, extra = divmod(size, shards)
    return [base + (index < extra) for index in range(shards)]


def shard_seed(seed: int, index: int) -> int:
    """The source's seed for shard ``index`` of a data set seeded ``seed`` (see the module)."""
    return SHARD_SEED_BASE + seed * SEED_LIMIT + index


@dataclass(frozen=True)
class ShardedDataset:
    """A data set to write as shards: the source, its resolved parameters and the shard plan."""

    source: str
    parameters: dict[str, Any]  # every parameter of the source but size, seed and RUNTIME, defaults filled
    seed: int
    size: int
    shards: int
    format: str  # a key of FORMATS
    out: Path
    runtime: dict[str, Any] = field(default_factory=dict)  # workers, progress: what the source is run with

    @property
    def sizes(self) -> list[int]:
        return shard_sizes(self.size, self.shards)

    def identity(self) -> dict[str, Any]:
        """What makes two shards parts of one data set (compared with every record found)."""
        from quanta import __version__

        return {"source": self.source, "parameters": self.parameters, "seed": self.seed, "size": self.size,
                "shards": self.shards, "sizes": self.sizes, "format": self.format, "quanta": __version__}

    def file_name(self, index: int) -> str:
        return f"{self.source}-{index:05d}{FORMATS[self.format][1]}"


@dataclass(frozen=True)
class Shard:
    """One shard as written (or found present): its file, rows, SHA-256 and seconds of generation."""

    index: int
    path: Path
    rows: int
    sha256: str
    seconds: float
    skipped: bool

    def summary(self, shards: int) -> str:
        """The command's line for this shard."""
        if self.skipped:
            return f"shard {self.index} of {shards}: present with the same parameters, skipped: {self.path}"
        rate = self.rows / max(self.seconds, 1e-9)
        return (f"shard {self.index} of {shards}: {self.rows:,} events in {self.seconds:.1f} s "
                f"({rate:,.0f} events/s): {self.path}")


def plan(source: str, *, size: int, shards: int = 1, seed: int = 1, format: str = "h5",
         settings: dict[str, Any] | None = None, out: str | Path, jobs: int = 1) -> ShardedDataset:
    """The data set to write, every argument checked (one-line :class:`UserError` otherwise).

    ``settings`` are the source's other parameters (``view``, ``pt_min``, ...).
    """
    from quanta.data import SOURCES
    from quanta.registry import parameters, validate_params

    for option, value, least in (("--size", size, 1), ("--shards", shards, 1), ("--jobs", jobs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UserError(f"{option}: must be an integer >= {least}, received {value!r}")
    if shards > size:
        raise UserError(f"--shards {shards}: more shards than events (--size {size}); give at most {size}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise UserError(f"--seed: must be an integer in 0 ... {SEED_LIMIT - 1}, received {seed!r}")
    if format not in FORMATS:
        raise UserError(f"--format: must be one of {', '.join(FORMATS)}, received {format!r}")
    factory = SOURCES.get(source)
    if source in NOT_SIMULATED:
        raise UserError(f"datasets generate {source}: {source} {NOT_SIMULATED[source]}, not a simulator; "
                        "generate a simulated source (quanta datasets lists them)")
    accepted = parameters(factory)
    if "size" not in accepted or "seed" not in accepted:
        raise UserError(f"datasets generate {source}: the source has no size and seed to generate shards by")
    settings = dict(settings or {})
    for name in ("size", "seed"):
        if name in settings:
            raise UserError(f"--set {name}: give --{name} instead")
    if jobs > 1 and "workers" in settings:
        raise UserError(f"--set workers: each of the --jobs {jobs} processes generates with one worker; "
                        "give --jobs or --set workers, not both")
    where = f"datasets generate {source}"
    validated = validate_params(factory, settings, where, supplied=("size", "seed"))
    validate_params(factory, {"seed": shard_seed(seed, 0)}, where)
    smallest = min(shard_sizes(size, shards))
    try:
        validate_params(factory, {"size": smallest}, where)
    except UserError as error:
        raise UserError(f"--shards {shards}: shards of {smallest} event{'s' * (smallest != 1)} "
                        f"(--size {size}), but {error}") from None
    resolved = {name: p.default for name, p in accepted.items() if p.default is not p.empty}
    resolved.update(validated)
    runtime = {name: resolved.pop(name) for name in RUNTIME if name in resolved}
    if "progress" in runtime:
        runtime["progress"] = False
    if jobs > 1 and "workers" in runtime:
        runtime["workers"] = 1  # worker processes of a pool may not start pools of their own
    for name in ("size", "seed"):
        resolved.pop(name, None)
    parameters_ = json.loads(json.dumps(resolved, default=str))  # as a record reads it back
    return ShardedDataset(source, parameters_, seed, size, shards, format, Path(out), runtime)




__all__ = ["FORMATS", "Shard", "ShardedDataset", "plan", "shard_seed", "shard_sizes"]
