"""Seeded chunked generation in worker processes: the part every slow simulator shares.

A simulated data set is cut into chunks; chunk ``i`` of class ``c`` draws its
random numbers from a seed derived from ``(seed, c, i)`` alone (see
:func:`chunk_seed`), so the result is the same whatever the number of
workers, and the chunks of a smaller ``size`` are among those of a larger one.
:func:`run_chunks` runs a picklable function over the chunks in a process
pool (fork on Linux), shows progress, and returns the results in chunk order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from quanta.simulators.progress import GenerationProgress

Chunk = TypeVar("Chunk")
SEED_RANGE = 900_000_000  # Pythia's Random:seed accepts 1 ... 900,000,000


def chunk_seed(seed: int, *keys: int) -> int:
    """A seed in ``1 ... 900,000,000`` for the chunk named by ``keys`` (class, index, ...).

    Derived with NumPy's ``SeedSequence`` so neighbouring chunks get unrelated
    streams; usable as Pythia's ``Random:seed`` and as a NumPy generator seed.
    """
    state = np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0]
    return int(state % SEED_RANGE) + 1


def chunk_sizes(total: int, chunk: int) -> list[int]:
    """``total`` items cut into chunks of ``chunk`` (the last one smaller)."""
    return [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks and container limits)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_worker(parent: int) -> None:
    """Worker initialiser: quiet, and never outliving the process that asked for the data.

    Generators (Pythia, FastJet) print banners from C++ to fd 1, which goes to
    /dev/null. Ctrl-C is left to the parent (it stops the pool), and on Linux a
    worker is terminated when its parent dies (a kill -9 of ``quanta run``),
    instead of printing broken-pipe tracebacks as an orphan.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(0)


class _Indexed:
    """Picklable wrapper calling ``function(chunk)`` and returning the chunk's position too."""

    def __init__(self, function: Callable[[Any], Any]):
        self.function = function

    def __call__(self, task: tuple[int, Any]) -> tuple[int, Any]:
        index, chunk = task
        return index, self.function(chunk)


def run_chunks(function: Callable[[Chunk], dict[str, np.ndarray]], chunks: Sequence[Chunk],
               total: int, label: str, unit: str = "events", workers: int = 0,
               progress: bool = True, count: str = "y") -> list[dict[str, np.ndarray]]:
    """``[function(c) for c in chunks]``, computed by ``workers`` processes (0: all cores).

    ``function`` must be a module-level function (it is pickled to the
    workers) returning arrays; ``len(result[count])`` items are added to the
    progress display of ``total`` items. One worker runs in this process,
    without a pool.
    """
    workers = max(1, min(workers or available_cores(), len(chunks)))
    results: list[dict[str, np.ndarray]] = [{}] * len(chunks)
    title = f"{label} ({workers} worker{'s' * (workers > 1)})"
    with GenerationProgress(total, title, unit=unit, enabled=progress) as display:
        if workers == 1:
            for index, chunk in enumerate(chunks):
                results[index] = function(chunk)
                display.advance(len(results[index][count]))
            return results
        # fork is fast and needs no importable __main__; elsewhere (macOS, Windows) fork is unsafe
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = context.Pool(workers, initializer=_start_worker, initargs=(os.getpid(),))
        try:
            for index, arrays in pool.imap_unordered(_Indexed(function), enumerate(chunks)):
                results[index] = arrays
                display.advance(len(arrays[count]))
        except BaseException:  # Ctrl-C, SIGTERM, an error in a chunk
            stop(pool)
            raise
        pool.close()
        pool.join()
    return results


def stop(pool, patience: float = 5.0) -> None:
    """Stop ``pool`` at once, never hanging: its own ``terminate`` gets ``patience`` seconds.

    ``multiprocessing.Pool.terminate`` can wait forever on its task queue when
    it interrupts a busy pool (it joins a handler thread stuck on the queue's
    lock); a Ctrl-C must end the run all the same. After ``patience`` the
    workers are killed outright and the stuck thread is left to the exit.
    """
    stopping = threading.Thread(target=pool.terminate, daemon=True)
    stopping.start()
    stopping.join(patience)
    if stopping.is_alive():
        for worker in list(getattr(pool, "_pool", [])):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                worker.kill()
