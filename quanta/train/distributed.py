"""Data-parallel training across processes started by ``torchrun`` (DistributedDataParallel).

``torchrun --nproc-per-node N -m quanta run EXPERIMENT.yaml`` (or ``python -m
torch.distributed.run ...``; several machines through torchrun's rendezvous, nothing more from
quanta) starts N processes with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous
address in their environment. Without them every function here answers for one process, so the
rest of quanta calls them unconditionally.

What a distributed run does, and where:

- :func:`start` (the first line of :func:`quanta.experiment.run_experiment`) joins the process
  group: gloo for CPU tensors, and NCCL for CUDA tensors when there is a GPU, with a timeout of
  :data:`TIMEOUT` for any collective; each rank trains on ``cuda:LOCAL_RANK``
  (:func:`rank_device`).
- The run directory is made by rank 0, which sends its name to the others
  (:func:`shared_run_directory`); only rank 0 writes files (:mod:`quanta.rundir`).
- Every rank holds the whole split; each global batch of ``train.batch_size`` rows is cut into
  equal per-rank slices (:mod:`quanta.data.batching`); DistributedDataParallel averages the
  gradients (:mod:`quanta.train.state`), so N ranks take the optimiser steps of one process.
- Validation: every rank evaluates the whole validation split with identical weights and
  buffers, and rank 0's metrics are sent to all (:func:`from_rank_zero`), so every rank makes the
  same early-stopping decision. (Evaluating is forward passes only: for the benchmark MLP,
  30-128-128-1 at batch 4096, a validation split of 0.15 / 0.7 of the training rows takes 6 % of
  a training epoch on one thread, which the ranks repeat rather than share; gathering sharded
  outputs would save that at the price of padding and ordering every output and target array,
  and would need a streamed split's chunks shared out too.)
- Streamed parts: each rank reads its own chunks, in batches of ``batch_size // N`` rows, as
  many as the smallest shard gives (:mod:`quanta.data.stream.loader`).
- Random draws (dropout, a GAN's noise) come from torch's global generator, seeded alike on every
  rank and drawn alike (equal slices), so rank 0's checkpointed generator state is every rank's
  and a resume continues exactly; the price is that the same row of each rank's slice gets the
  same dropout mask or noise vector.
- Resume (``torchrun ... -m quanta run --resume RUN_DIR``): every rank reads rank 0's
  checkpoint, so on several machines the run directory must be on a shared file system.
- Classical methods (boosted trees, scikit-learn) are trained by every rank alike (same data,
  same seed, same model), rank 0 writing; they need no communication and no barrier whose
  timeout a long fit could exceed.

A failing rank fails the job: its traceback goes to stderr, the others' pending gloo
collective fails as its connection closes, and torchrun's agent, seeing a worker exit non-zero,
stops the rest with SIGTERM and exits non-zero naming the failed rank. Measured on the 2-core
test machine under load: the job ends 3 to 5 s after the raise
(``tests/train/test_ddp_failure.py`` asserts under 15 s). A rank that hangs instead (a lost
machine) makes the others' next collective fail after :data:`TIMEOUT`.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.errors import UserError

if TYPE_CHECKING:
    import torch

    from quanta.rundir import RunDirectory

#: How long a collective waits for the other ranks before it fails (a hung or lost rank). Long
#: enough for rank 0's own work between two collectives (scoring, variable ranking, the report
#: of a method) while the others wait at the next method's first collective.
TIMEOUT = timedelta(minutes=30)


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


def _joined() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def start() -> World:
    """Join torchrun's process group (once; nothing for one process) and return this rank's place.

    Backends: gloo for CPU tensors, plus NCCL for CUDA tensors when a GPU and NCCL are there
    (``"cpu:gloo,cuda:nccl"``), so that small CPU flags and GPU gradients each take their own.
    The group is left at interpreter exit (:func:`finish`).
    """
    place = world()
    if not place.distributed or _joined():
        return place
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise UserError("torchrun: this PyTorch build has no torch.distributed; run one process")
    gpu = torch.cuda.is_available() and dist.is_nccl_available()
    if gpu:
        torch.cuda.set_device(place.local_rank % torch.cuda.device_count())
    dist.init_process_group("cpu:gloo,cuda:nccl" if gpu else "gloo", timeout=TIMEOUT)
    atexit.register(finish)
    return place


def finish() -> None:
    """Leave the process group (nothing when none was joined)."""
    import torch.distributed as dist

    if _joined():
        dist.destroy_process_group()


def rank_device(device: torch.device) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for a CUDA device under torchrun.

    ``device: cuda`` (or ``auto`` on a GPU machine) gives each rank of a machine its own GPU;
    an explicit ``cuda:N`` is refused under torchrun, which places the ranks itself.
    """
    place = world()
    if not place.distributed or device.type != "cuda":
        return device
    import torch

    if device.index is not None and device.index != place.local_rank:
        raise UserError(f"device: '{device}' names one GPU, but torchrun places each rank on its own "
                        f"(rank {place.rank} on cuda:{place.local_rank}); use device: cuda or auto")
    return torch.device("cuda", place.local_rank % torch.cuda.device_count())


#: batches between the ranks' agreements on a pre-emption flag (one tiny all_reduce each): a signal
#: is answered within this many steps, at a cost the step does not notice
AGREE_EVERY = 16


def agreed(flag: bool) -> bool:
    """``flag`` if any rank raised it (all ranks get the same answer); ``flag`` itself for one process.

    A pre-emption signal reaches the ranks at slightly different moments; every rank must stop
    after the same step.
    """
    if not _joined():
        return flag
    import torch
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def averaged(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over the ranks (a new tensor; ``value`` itself for one process)."""
    if not _joined():
        return value
    import torch.distributed as dist

    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def average_gradients(parameters: list[torch.Tensor]) -> None:
    """Replace each parameter's gradient by its mean over the ranks, in one all-reduce.

    What DistributedDataParallel does during backward, for a training step whose forward did not
    pass through its wrapper (a GAN's generator called through ``sample``); a parameter without a
    gradient on this rank counts as zero.
    """
    if not _joined() or not parameters:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])  # [sum of numel]
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    start = 0
    for parameter, grad in zip(parameters, grads, strict=True):
        count = grad.numel()
        parameter.grad = flat[start:start + count].view_as(parameter).to(parameter.dtype)
        start += count


def broadcast_module(module: torch.nn.Module, parameters: bool = True) -> None:
    """Give every rank rank 0's parameters (unless ``parameters`` is False) and buffers.

    Nothing for one process. Buffers such as batch-norm statistics are updated by each rank's
    own forward passes; parameters stay equal once they are, as every rank steps alike.
    """
    if not _joined():
        return
    import torch
    import torch.distributed as dist

    tensors = (*(module.parameters() if parameters else ()), *module.buffers())
    with torch.no_grad():
        for tensor in tensors:
            dist.broadcast(tensor.data, src=0)


def from_rank_zero(values: list[float]) -> list[float]:
    """Rank 0's ``values`` on every rank (``values`` itself for one process); all give as many."""
    if not _joined() or not values:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def shared_object(value: Any) -> Any:
    """Rank 0's ``value`` (any picklable object) on every rank; ``value`` itself for one process."""
    if not _joined():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shared_run_directory(parent: str | Path) -> RunDirectory:
    """A new run directory below ``parent``, made by rank 0 and named alike on every rank.

    Rank 0 creates it (:meth:`RunDirectory.create`) and sends its name; a failure there (a folder
    that cannot be made) reaches every rank as the same one-line error, so no rank waits for a
    name that never comes.
    """
    from quanta.rundir import RunDirectory

    place = world()
    if not place.distributed:
        return RunDirectory.create(parent)
    made, message = None, None
    if place.rank == 0:
        try:
            made = RunDirectory.create(parent)
        except UserError as error:
            message = str(error)
    name, message = shared_object((made.path.name if made else None, message))
    if message is not None:
        raise UserError(message)
    return made if made is not None else RunDirectory.create(parent, name=name)
