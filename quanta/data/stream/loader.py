"""Batches of a streamed part on the training device, with the in-memory loader's interface.

:class:`StreamLoader` offers what :class:`~quanta.data.batching.DeviceData`
offers - ``len``, shuffled ``batches`` for training, ``in_order`` batches for
evaluation - so the training loop does not know which one it holds.

Training batches: a background thread reads the shard's chunks in an order
drawn for the epoch (threads of :mod:`.prefetch` read ahead), mixes them in a
:class:`~.shuffle.ShuffleBuffer`, and queues blocks of whole batches as
tensors (pinned for a GPU). The training thread moves a block to the device in
one copy and slices it into batches - the same index-free slicing as the
in-memory path, so no per-sample Python runs while the model trains.
Everything random is drawn from the epoch's generator: the order is the same
for a seed.

Under ``torchrun`` each rank reads its own chunks (:meth:`StreamPart.shard`: every
``world``-th chunk of a seeded order), in batches of ``batch_size // world`` rows, so that a
global batch is ``batch_size`` rows as in memory. Shards differ in their rows, so every rank stops
after the number of batches the smallest shard gives (each rank computes every shard's size from
the scan's counts: no communication); the rows of the larger shards beyond it (a different
few each epoch, as the shuffle differs) wait for the next epoch. ``len`` is the whole part's
rows, as for one process, so throughput and schedules count global samples.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np
import torch

from quanta.data.stream.plan import distributed_rank, shard
from quanta.data.stream.prefetch import prefetched
from quanta.data.stream.shuffle import ShuffleBuffer
from quanta.data.stream.stream import StreamPart

_END = object()


class StreamLoader:
    """A streamed part's arrays, delivered as batches of tensors on ``device``.

    Args:
        part: the split to read (with its transform, if any).
        device: where batches go.
        names: the arrays to deliver (inputs and targets).
    """

    def __init__(self, part: StreamPart, device: torch.device | str, names: tuple[str, ...]):
        self.part = part
        self.device = torch.device(device)
        self.names = names
        self.shard = part.shard()
        self.size = len(part)
        self.rank, self.ranks = distributed_rank()
        settings = part.stream.settings
        self.ranks = settings.world if settings.world is not None else self.ranks
        #: rows of every rank's shard (one process: this one's), for the steps all ranks take
        self.shard_rows = ([part.rows_of(shard(part.chunks, rank, self.ranks, part.seed))
                            for rank in range(self.ranks)] if self.ranks > 1 else [self.size])

    def __len__(self) -> int:
        return self.size

    def _tensors(self, arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        tensors = {name: torch.from_numpy(np.ascontiguousarray(arrays[name])) for name in self.names
                   if name in arrays}
        if self.device.type == "cuda":
            tensors = {name: tensor.pin_memory() for name, tensor in tensors.items()}
        return tensors

    def _produce(self, out: queue.Queue, stop: threading.Event, seed: int, batch_size: int) -> None:
        settings = self.part.stream.settings
        try:
            rng = np.random.default_rng(seed)
            order = [self.shard[i] for i in rng.permutation(len(self.shard))]
            buffer = ShuffleBuffer(settings.buffer_rows, batch_size, rng, block_rows=settings.buffer_rows // 4)
            chunks = prefetched(order, self.part.read, settings.workers, settings.depth)
            for arrays in chunks:
                for block in buffer.add(arrays):
                    if not _put(out, self._tensors(block), stop):
                        return
            for block in buffer.flush():
                if not _put(out, self._tensors(block), stop):
                    return
            _put(out, _END, stop)
        except BaseException as error:  # handed to the training thread, raised there
            _put(out, error, stop)

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled batches for one epoch; the order is a function of ``generator``'s seed.

        Under torchrun: this rank's batches of ``batch_size // world`` rows, as many as every rank
        has (see the module docstring).
        """
        seed = generator.initial_seed() if generator is not None else 0
        steps = None
        if self.ranks > 1:
            batch_size = max(1, batch_size // self.ranks)
            steps = min(-(-rows // batch_size) for rows in self.shard_rows)
        taken = 0
        out: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        thread = threading.Thread(target=self._produce, args=(out, stop, seed, batch_size),
                                  name="quanta-stream", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                block = {name: tensor.to(self.device, non_blocking=True) for name, tensor in item.items()}
                rows = len(next(iter(block.values())))
                for start in range(0, rows, batch_size):
                    if taken == steps:
                        return
                    taken += 1
                    yield {name: tensor[start:start + batch_size] for name, tensor in block.items()}
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting to put
                try:
                    out.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)

    def in_order(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Every row of the part (all ranks' shards) in file order, for evaluation and prediction."""
        settings = self.part.stream.settings
        for arrays in prefetched(self.part.chunks, self.part.read, settings.workers, settings.depth):
            block = {name: tensor.to(self.device, non_blocking=True) for name, tensor in self._tensors(arrays).items()}
            rows = len(next(iter(block.values()))) if block else 0
            for start in range(0, rows, batch_size):
                yield {name: tensor[start:start + batch_size] for name, tensor in block.items()}


def _put(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Queue ``item`` unless the consumer has stopped; False when it has."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
