"""The shuffle buffer: rows of many chunks, mixed before they become batches.

Chunks are contiguous rows of one file, often of one class or one run
period. The buffer collects rows of several chunks (up to ``capacity``); once
full it shuffles what it holds and hands out a block of whole batches,
keeping the rest to mix with the next chunks. A batch therefore draws from
every chunk in the buffer; with chunks read in a shuffled order from many
files, that is from many files. When the stream ends, the remainder is
shuffled and handed out, the last batch possibly smaller: every row is seen
once per epoch. All draws come from one seeded generator.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

Arrays = dict[str, np.ndarray]


class ShuffleBuffer:
    """Mixes incoming chunks; yields blocks of shuffled rows, a multiple of ``batch_size`` long.

    Args:
        capacity: rows held before a block is handed out (at least one batch).
        batch_size: blocks are whole batches, except the very last one.
        rng: the epoch's generator.
        block_rows: the largest block handed out at once.
    """

    def __init__(self, capacity: int, batch_size: int, rng: np.random.Generator, block_rows: int | None = None):
        self.capacity = max(int(capacity), batch_size)
        self.batch_size = batch_size
        self.rng = rng
        self.block_rows = max(batch_size, (block_rows or self.capacity // 2) // batch_size * batch_size)
        self.parts: list[Arrays] = []
        self.rows = 0

    def add(self, arrays: Arrays) -> Iterator[Arrays]:
        """Take a chunk's rows; yield the blocks that are ready."""
        rows = len(next(iter(arrays.values())))
        if rows:
            self.parts.append(arrays)
            self.rows += rows
        while self.rows >= self.capacity:
            yield from self._hand_out(keep=self.capacity // 2)

    def flush(self) -> Iterator[Arrays]:
        """The remaining rows, shuffled, as the stream's last blocks."""
        while self.rows:
            yield from self._hand_out(keep=0)

    def _hand_out(self, keep: int) -> Iterator[Arrays]:
        held = self._merged()
        order = self.rng.permutation(self.rows)
        give = self.rows - keep
        give = give if keep == 0 else max(self.batch_size, give // self.batch_size * self.batch_size)
        for start in range(0, give, self.block_rows):
            index = order[start:min(start + self.block_rows, give)]
            yield {name: value[index] for name, value in held.items()}
        rest = order[give:]
        self.parts = [{name: value[rest] for name, value in held.items()}] if len(rest) else []
        self.rows = len(rest)

    def _merged(self) -> Arrays:
        if len(self.parts) == 1:
            return self.parts[0]
        return {name: np.concatenate([part[name] for part in self.parts]) for name in self.parts[0]}
