"""Background reading: chunks are read by a few threads ahead of their use, in order.

File reading (h5py, pyarrow, uproot decompression) and the NumPy work of a
chunk mostly run outside Python's interpreter lock, so a small thread pool
keeps the next chunks ready while the training step runs. Results come back
in submission order, whatever order the threads finish in, so the stream is
deterministic; at most ``depth`` chunks are in flight, which bounds memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def prefetched(items: Iterable[Item], work: Callable[[Item], Result], workers: int = 2,
               depth: int | None = None) -> Iterator[Result]:
    """``work(item)`` for every item, computed ahead by ``workers`` threads, yielded in order."""
    depth = max(1, depth if depth is not None else workers + 1)
    if workers <= 0:  # no background threads: read on demand
        yield from map(work, items)
        return
    pending: deque[Future] = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quanta-read") as pool:
        try:
            for item in source:
                pending.append(pool.submit(work, item))
                if len(pending) >= depth:
                    break
            while pending:
                result = pending.popleft().result()
                for item in source:  # keep ``depth`` chunks in flight
                    pending.append(pool.submit(work, item))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()
