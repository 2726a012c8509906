"""Many shards at once: in this process or a pool of ``--jobs`` processes, and the command."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import time
from pathlib import Path
from typing import Any

from quanta.errors import UserError
from quanta.shards.manifest import MANIFEST, check_folder, read_manifest, write_manifest
from quanta.shards.plan import Shard, ShardedDataset, plan, shard_seed
from quanta.shards.writing import generate_events, private_cache, shard_columns, write_shard

PROBE_EVENTS = 16  # events generated to check that Parquet can hold a source's arrays


def generate(source: str, *, size: int, shards: int = 1, shard: int | None = None, format: str = "h5",
             seed: int = 1, jobs: int = 1, settings: dict[str, Any] | None = None, out: str | Path,
             report=None) -> list[Shard]:
    """Write the shards of ``source`` to ``out`` (all, or only ``shard``); returns them in order of index.

    ``jobs`` processes generate shards at once; ``report(shard)`` is called as each one ends.
    See the module for what a shard holds and what is guaranteed.
    """
    dataset = plan(source, size=size, shards=shards, seed=seed, format=format, settings=settings, out=out,
                   jobs=jobs)
    if shard is not None and (isinstance(shard, bool) or not isinstance(shard, int)
                              or not 0 <= shard < shards):
        raise UserError(f"--shard: must be an integer in 0 ... {shards - 1} (--shards {shards}), "
                        f"received {shard!r}")
    check_folder(dataset)
    indices = [shard] if shard is not None else list(range(shards))
    if dataset.format == "parquet":
        _probe_parquet(dataset)
    done: list[Shard] = []
    if jobs == 1 or len(indices) == 1:
        for index in indices:
            done.append(write_shard(dataset, index))
            if report:
                report(done[-1])
    else:
        done = _in_processes(dataset, indices, jobs, report)
    write_manifest(dataset.out)
    return sorted(done, key=lambda written: written.index)


def _probe_parquet(dataset: ShardedDataset) -> None:
    """Refuse, before any shard, a source whose arrays Parquet cannot hold (from a few events).

    A source that refuses so few events (a size-dependent parameter) is not probed: every
    shard's own columns are checked all the same, before its file is written.
    """
    with private_cache():
        try:
            data = generate_events(dataset, min(PROBE_EVENTS, dataset.sizes[-1]), shard_seed(dataset.seed, 0))
        except UserError:
            return
    shard_columns(data, dataset)


class _ShardWriter:
    """Picklable ``write_shard(dataset, index)`` for the pool."""

    def __init__(self, dataset: ShardedDataset):
        self.dataset = dataset

    def __call__(self, index: int) -> Shard:
        return write_shard(self.dataset, index)


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool
    signal.signal(signal.SIGTERM, _terminate)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (a batch system's kill, the pool's stop) as an exit that runs the clean-ups."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _terminated_cleanly():
    """SIGTERM exits through :func:`_terminate` in the block: no temporary cache or file is left."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_processes(dataset: ShardedDataset, indices: list[int], jobs: int, report) -> list[Shard]:
    from quanta.simulators.parallel import stop

    # fork is fast and needs no importable __main__; elsewhere (macOS, Windows) fork is unsafe
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = context.Pool(min(jobs, len(indices)), initializer=_start_worker)
    done: list[Shard] = []
    try:
        for written in pool.imap_unordered(_ShardWriter(dataset), indices):
            done.append(written)
            if report:
                report(written)
    except BaseException:  # Ctrl-C, SIGTERM, a shard's error (a UserError comes back whole)
        stop(pool)
        raise
    pool.close()
    pool.join()
    return done


def generate_command(args) -> int:
    """``quanta datasets generate``: the parsed arguments to :func:`generate`, one line per shard."""
    import yaml

    settings: dict[str, Any] = {}
    if args.view:
        settings["view"] = args.view
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set: expected KEY=VALUE, received {item!r}")
        settings[key.strip()] = yaml.safe_load(value)
    start = time.perf_counter()
    with _terminated_cleanly():
        written = generate(args.name, size=args.size, shards=args.shards, shard=args.shard,
                           format=args.format, seed=args.seed, jobs=args.jobs, settings=settings, out=args.out,
                           report=lambda shard: print(shard.summary(args.shards), flush=True))
    manifest = read_manifest(args.out)
    made = sum(shard.rows for shard in written if not shard.skipped)
    print(f"{made:,} events written in {time.perf_counter() - start:.1f} s; {len(manifest['written'])} of "
          f"{manifest['shards']} shards present ({manifest['rows']:,} events): "
          f"{Path(args.out) / MANIFEST}")
    return 0




__all__ = ["generate", "generate_command"]
