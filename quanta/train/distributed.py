"""Data-parallel training across processes started by ``torchrun`` (DistributedDataParallel).

``torchrun --nproc-per-node N -m quanta run EXPERIMENT.yaml`` starts N processes with ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous in their environment. Without them every function
here answers for one process, so the rest of quanta calls them unconditionally.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one training job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """The job's ranks from torchrun's environment (one process when it is not set)."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def agreed(flag: bool) -> bool:
    """``flag`` if any rank raised it (all ranks get the same answer); ``flag`` itself for one process.

    A pre-emption signal reaches the ranks at slightly different moments; every rank must stop
    after the same step.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    import torch

    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
