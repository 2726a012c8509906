"""In-memory batching: the split lives on the device, a batch is one index-gather.

No per-sample Python and no collate: each epoch draws one random permutation
on the device, and each batch is ``tensor[perm[i:i + batch_size]]`` for every
array. This is the fastest way to feed a model whose data fits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from quanta.data.dataset import Dataset


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
        """Shuffled batches (a fresh permutation from ``generator``); the last may be smaller."""
        order = torch.randperm(self.size, generator=generator).to(self.device)
        tensors = self.tensors
        for start in range(0, self.size, batch_size):
            index = order[start:start + batch_size]
            yield {name: tensor[index] for name, tensor in tensors.items()}

    def in_order(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches in stored order (evaluation and prediction); slices, no copies."""
        for start in range(0, self.size, batch_size):
            yield {name: tensor[start:start + batch_size] for name, tensor in self.tensors.items()}
