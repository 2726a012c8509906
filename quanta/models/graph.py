"""Message passing on padded tensors: masked pooling, k-nearest neighbours, gather and scatter.

The set and graph models of quanta (Deep Sets, the set Transformer, MPNN,
ParticleNet, the interaction network) share these few operations. They work
on quanta's data layout: every event is padded to the same number of
elements, ``x[N, P, F]`` with ``mask[N, P]`` (False = padding), and a graph's
edges are padded too, ``edge_index[N, E, 2]`` (element slots within the
event) with ``edge_mask[N, E]``. Each helper guarantees the two properties
a set model must have:

- *padding invariance*: a padded element or edge never contributes to a sum,
  mean, maximum or message, and is never chosen as a neighbour, so adding
  padding does not change an output;
- *permutation equivariance*: nothing depends on the order of the slots
  (up to ties in k-nearest-neighbour distances).

Why plain PyTorch and not PyTorch Geometric (PyG)? PyG is not installed,
and it would not fit the layout well. Its pure-Python wheel is small
(``torch_geometric`` 2.8: 1.3 MB, pulling aiohttp, fsspec, jinja2, psutil,
requests, tqdm, xxhash), but its fast neighbour search and scatter kernels
(``torch-cluster``, ``torch-scatter``, ``pyg-lib``) are compiled per PyTorch
and CUDA version, and PyG's graphs are *flattened*: all nodes of a batch in
one ``[sum of nodes, F]`` tensor with a global ``edge_index[2, E_total]``,
built by a per-sample collate. quanta's batches are one index-gather of
padded arrays on the device (``quanta.data.batching``); with the tens to a few
hundred elements of a jet or a tracker event, dense batched tensors turn
every operation into a batched matmul, gather or ``scatter_add_`` that runs
at full speed on a CPU or GPU, needs no compiled extension and keeps a
model usable with nothing but PyTorch.

Shapes (conventions of every function here): ``N`` events, ``P`` elements
(set members, graph nodes), ``E`` edge slots, ``k`` neighbours, ``F``/``C``
features.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from quanta.errors import UserError

Aggregation = Literal["sum", "mean", "max"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


# -- pooling over the elements of a set ---------------------------------------------------------
def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over the valid elements: ``x[N, P, F]``, ``mask[N, P]`` -> ``[N, F]``.

    The reduced axis is always the one just before the features (axis
    ``-2``) and the mask has ``x``'s shape without the feature axis, so the
    same call sums the neighbours of ``x[N, P, k, F]`` with ``mask[N, P, k]``.
    """
    return (x * mask.unsqueeze(-1).to(x.dtype)).sum(dim=-2)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid elements (0 for a set with none): ``[N, P, F]``, ``[N, P]`` -> ``[N, F]``.

    As :func:`masked_sum`, the reduced axis is ``-2`` and the mask has ``x``'s
    shape without the feature axis.
    """
    count = mask.sum(dim=-1, keepdim=True).clamp_min(1).to(x.dtype)  # [..., 1]
    return masked_sum(x, mask) / count


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum over the valid elements (0 for a set with none): ``[N, P, F]``, ``[N, P]`` -> ``[N, F]``."""
    valid = mask.unsqueeze(-1)  # [..., P, 1]
    lowest = torch.finfo(x.dtype).min
    largest = x.masked_fill(~valid, lowest).amax(dim=-2)  # [..., F]
    return torch.where(valid.any(dim=-2), largest, torch.zeros_like(largest))


def aggregate(x: torch.Tensor, mask: torch.Tensor, how: Aggregation = "sum") -> torch.Tensor:
    """Pool the valid elements with ``how`` (``"sum"``, ``"mean"`` or ``"max"``) along axis ``-2``."""
    if how == "sum":
        return masked_sum(x, mask)
    if how == "mean":
        return masked_mean(x, mask)
    if how == "max":
        return masked_max(x, mask)
    raise UserError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, received {how!r}")


# -- neighbours ---------------------------------------------------------------------------------
def knn(points: torch.Tensor, mask: torch.Tensor, k: int,
        include_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest valid neighbours of every element, by Euclidean distance in ``points``.

    Padded elements are never chosen (their distance is +inf), and neither is
    the element itself unless ``include_self``. An event with fewer than
    ``k`` candidates still returns ``k`` indices; the extra ones point at
    arbitrary slots and are flagged False in the returned neighbour mask, so
    that an aggregation over neighbours (:func:`aggregate`) ignores them.
    The neighbour mask is also False for every padded *centre*.

    Args:
        points: coordinates ``[N, P, D]`` in which distance is measured (the
            (Δη, Δφ) of particles, or learned features).
        mask: ``[N, P]``, False for padding.
        k: neighbours per element (>= 1; more than ``P`` is an error).
        include_self: count the element as its own nearest neighbour.

    Returns:
        ``(index [N, P, k] int64, neighbour_mask [N, P, k] bool)``, nearest first.
    """
    n_points = points.shape[1]
    if not 1 <= k <= n_points:
        raise UserError(f"knn: k must be in [1, {n_points}] (the padded set size), received {k}")
    with torch.no_grad():  # the choice of neighbours is not differentiable
        p = points.detach().float()
        squared = (p * p).sum(-1)  # [N, P]
        distance = squared.unsqueeze(2) + squared.unsqueeze(1) - 2 * p @ p.transpose(1, 2)  # [N, P, P]
        candidate = mask.unsqueeze(1).expand(-1, n_points, -1)  # [N, P(centre), P(neighbour)]
        if not include_self:
            diagonal = torch.eye(n_points, dtype=torch.bool, device=points.device)
            candidate = candidate & ~diagonal
        distance = distance.masked_fill(~candidate, float("inf"))
        nearest, index = distance.topk(k, dim=-1, largest=False)  # [N, P, k]
        neighbour_mask = torch.isfinite(nearest) & mask.unsqueeze(-1)  # [N, P, k]
    return index, neighbour_mask


def gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Features of the elements named by ``index``, event by event.

    ``x[N, P, F]`` and ``index[N, ...]`` (slots in ``0..P-1``: the neighbours
    ``[N, P, k]`` of :func:`knn`, or one endpoint ``[N, E]`` of an edge index)
    -> ``[N, ..., F]``, with ``out[n, ...] = x[n, index[n, ...]]``.
    """
    n_events, n_points, n_features = x.shape
    offset = torch.arange(n_events, device=x.device).reshape(-1, *([1] * (index.ndim - 1))) * n_points
    flat = (index + offset).reshape(-1)  # [N * ...] rows of the flattened x
    return x.reshape(n_events * n_points, n_features)[flat].reshape(*index.shape, n_features)


def scatter_sum(messages: torch.Tensor, target: torch.Tensor, edge_mask: torch.Tensor,
                n_nodes: int) -> torch.Tensor:
    """Sum edge messages into the nodes they point at; padded edges send nothing.

    Args:
        messages: ``[N, E, F]``, one message per edge slot.
        target: ``[N, E]`` int64, the receiving node slot of each edge.
        edge_mask: ``[N, E]``, False for padded edge slots (whatever their target).
        n_nodes: node slots per event ``P``.

    Returns:
        ``[N, P, F]``: per node, the sum of its incoming messages (0 if none).
    """
    n_events, _, n_features = messages.shape
    messages = messages * edge_mask.unsqueeze(-1).to(messages.dtype)  # [N, E, F]
    out = messages.new_zeros(n_events, n_nodes, n_features)
    return out.scatter_add(1, target.unsqueeze(-1).expand(-1, -1, n_features), messages)  # [N, P, F]


def scatter_mean(messages: torch.Tensor, target: torch.Tensor, edge_mask: torch.Tensor,
                 n_nodes: int) -> torch.Tensor:
    """As :func:`scatter_sum`, divided by each node's number of incoming valid edges (0 if none)."""
    total = scatter_sum(messages, target, edge_mask, n_nodes)  # [N, P, F]
    ones = edge_mask.unsqueeze(-1).to(messages.dtype)  # [N, E, 1]
    count = scatter_sum(ones, target, edge_mask, n_nodes).clamp_min(1)  # [N, P, 1]
    return total / count


def edge_endpoints_valid(edge_index: torch.Tensor, edge_mask: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
    """``edge_mask`` restricted to edges whose two endpoints are valid nodes: ``[N, E]`` bool."""
    source = torch.gather(mask, 1, edge_index[..., 0])  # [N, E]
    target = torch.gather(mask, 1, edge_index[..., 1])  # [N, E]
    return edge_mask.bool() & source & target


# -- normalisation ------------------------------------------------------------------------------
class MaskedBatchNorm(nn.Module):
    """Batch normalisation of the features of valid elements only (padding is neither used nor changed).

    ``nn.BatchNorm1d`` on a padded set would mix the zeros of padding into
    its batch statistics, so the output would depend on how much padding a
    batch has. This layer computes mean and variance over the valid entries
    only during training (and keeps running averages for evaluation, as
    batch norm does), and returns padded entries as zeros.

    Args:
        features: feature count ``C`` (the last axis).
        momentum: weight of the current batch in the running statistics.
        eps: added to the variance.
        affine: learn a per-feature scale and shift.

    Shapes:
        - input ``x``: ``[..., C]`` with ``mask`` of shape ``[...]``.
        - output: ``[..., C]``, zero where ``mask`` is False.
    """

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        self.features, self.momentum, self.eps = features, momentum, eps
        self.weight = nn.Parameter(torch.ones(features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask.reshape(-1).to(torch.float32)  # [M]
        if self.training:
            # batch statistics as two matrix-vector products over the valid rows, in float32
            # even under autocast (no boolean indexing, hence no device sync)
            with torch.autocast(x.device.type, enabled=False):
                rows = x.reshape(-1, self.features).float()  # [M, C]
                count = valid.sum().clamp_min(1)
                mean = (valid @ rows) / count  # [C]
                var = ((valid @ (rows * rows)) / count - mean * mean).clamp_min(0)  # [C]
            with torch.no_grad():
                unbiased = var * count / (count - 1).clamp_min(1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.eps)  # [C]
        if self.weight is not None:
            scale = scale * self.weight
        shift = -mean * scale if self.bias is None else self.bias - mean * scale  # [C]
        out = torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))  # x * scale + shift
        return out * mask.unsqueeze(-1).to(out.dtype)


__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "MaskedBatchNorm",
    "aggregate",
    "edge_endpoints_valid",
    "gather",
    "knn",
    "masked_max",
    "masked_mean",
    "masked_sum",
    "scatter_mean",
    "scatter_sum",
]
