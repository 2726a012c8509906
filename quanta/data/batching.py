"""In-memory batching: the split lives on the device, a batch is one index-gather.

No per-sample Python and no collate: each epoch draws one random permutation
on the device, and each batch is ``tensor[perm[i:i + batch_size]]`` for every
array. This is the fastest way to feed a model whose data fits in memory.

Under ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set; :mod:`quanta.train.distributed`) every rank holds the whole split and draws
the same permutation from the same seeded generator; each global batch of ``batch_size`` rows is
cut into ``world size`` equal, contiguous slices and rank ``r`` takes slice ``r``. Gradients
averaged over the ranks are then those of the whole batch, so N ranks take the optimiser steps of
one process with the same ``batch_size`` (up to the order of floating-point sums). The epoch's
last batch, of ``n`` rows, is cut into slices of ``n // world`` rows: its ``n % world`` last rows
(fewer than the number of ranks, different ones each epoch) are left out of that epoch, and when
it holds fewer rows than there are ranks it is left out whole, so that every rank takes the same
number of steps with equal slices. ``batch_size`` itself must be a multiple of the number of ranks
(:class:`quanta.train.state.TrainingState` says so before training).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from quanta.data.dataset import Dataset
from quanta.data.stream.plan import distributed_rank


class DeviceData:
    """A data set's arrays as contiguous tensors on one device.

    Args:
        data: the split to hold.
        device: where the tensors live.
        names: which arrays to move (default: all of them).
        dtypes: optional ``{name: torch dtype}`` to cast to (e.g. targets for a task).
    """

    def __init__(self, data: Dataset, device: torch.device | str, names: tuple[str, ...] | None = None,
                 dtypes: dict[str, torch.dtype] | None = None):
        dtypes = dtypes or {}
        names = names or tuple(data.arrays)
        self.tensors: dict[str, torch.Tensor] = {}
        for name in names:
            array = np.ascontiguousarray(data[name])
            tensor = torch.from_numpy(array)
            if name in dtypes:
                tensor = tensor.to(dtypes[name])
            self.tensors[name] = tensor.to(device, non_blocking=True)
        self.device = torch.device(device)
        self.size = len(data)

    def __len__(self) -> int:
        return self.size

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffled batches (a fresh permutation from ``generator``); the last may be smaller.

        Under torchrun, this rank's slice of each global batch (see the module docstring).
        """
        order = torch.randperm(self.size, generator=generator).to(self.device)
        tensors = self.tensors
        rank, ranks = distributed_rank()
        for start in range(0, self.size, batch_size):
            index = order[start:start + batch_size]
            if ranks > 1:
                share = len(index) // ranks  # equal slices; the last batch's remainder left out
                if share == 0:
                    return
                index = index[rank * share:(rank + 1) * share]
            yield {name: tensor[index] for name, tensor in tensors.items()}

    def in_order(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches in stored order (evaluation and prediction); slices, no copies."""
        for start in range(0, self.size, batch_size):
            yield {name: tensor[start:start + batch_size] for name, tensor in self.tensors.items()}
