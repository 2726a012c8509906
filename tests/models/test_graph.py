"""Message-passing helpers on padded tensors: pooling, kNN, gather, scatter, masked batch norm.

Also home of the helpers the set and graph model tests share: the jets data
they learn on, and permuting or padding a batch of sets.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.graph import (
    MaskedBatchNorm,
    aggregate,
    edge_endpoints_valid,
    gather,
    knn,
    masked_max,
    masked_mean,
    masked_sum,
    scatter_mean,
    scatter_sum,
)


# -- shared helpers of the set and graph model tests --------------------------------------------
def jets_constituents(n_jets: int = 1200, n_constituents: int = 30):
    """The first ``n_jets`` jets of the 3000 (seed 1) that the top-tagging test generates too.

    The session cache generates them once (about a minute on two busy cores)
    for every test that asks, whatever view or constituent count it wants.
    """
    data = quanta.data.load("jets", view="constituents", size=3000, seed=1,
                            n_constituents=n_constituents, progress=False)
    return data.subset(np.arange(n_jets))


def random_sets(n: int = 6, p: int = 12, f: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sets with 1..p valid elements in random slots; padded slots hold zeros."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, f, generator=generator)
    counts = torch.randint(1, p + 1, (n,), generator=generator)
    mask = torch.arange(p)[None, :] < counts[:, None]  # [n, p]
    order = torch.argsort(torch.rand(n, p, generator=generator), dim=1)
    mask = torch.gather(mask, 1, order)  # padding scattered among the slots
    return x * mask.unsqueeze(-1), mask


def permute_sets(x: torch.Tensor, mask: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The same sets with their slots in a random order (per event)."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.argsort(torch.rand(mask.shape, generator=generator), dim=1)  # [N, P]
    return gather(x, order), torch.gather(mask, 1, order)


def pad_sets(x: torch.Tensor, mask: torch.Tensor, extra: int = 5, value: float = 0.0):
    """The same sets with ``extra`` more padded slots (holding ``value``) at the end."""
    n, _, f = x.shape
    return (torch.cat([x, torch.full((n, extra, f), value)], 1),
            torch.cat([mask, torch.zeros(n, extra, dtype=torch.bool)], 1))


# -- pooling ------------------------------------------------------------------------------------
def test_masked_pooling_ignores_padding():
    x, mask = random_sets()
    garbage = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 1e6))  # padding with huge values
    for i in range(len(x)):
        valid = x[i][mask[i]]
        torch.testing.assert_close(masked_sum(garbage, mask)[i], valid.sum(0))
        torch.testing.assert_close(masked_mean(garbage, mask)[i], valid.mean(0))
        torch.testing.assert_close(masked_max(garbage, mask)[i], valid.amax(0))
    torch.testing.assert_close(aggregate(garbage, mask, "max"), masked_max(garbage, mask))


def test_pooling_of_an_empty_set_is_zero_and_finite():
    x = torch.randn(2, 4, 3)
    mask = torch.tensor([[False] * 4, [True, False, False, False]])
    for pooled in (masked_sum(x, mask), masked_mean(x, mask), masked_max(x, mask)):
        assert torch.isfinite(pooled).all() and (pooled[0] == 0).all()
    with pytest.raises(UserError, match="aggregation must be one of sum, mean, max"):
        aggregate(x, mask, "median")


def test_pooling_over_neighbours_reduces_axis_minus_two():
    x = torch.randn(2, 5, 3, 4)  # [N, P, k, F]
    mask = torch.rand(2, 5, 3) > 0.3
    expected = (x * mask.unsqueeze(-1)).sum(2)
    torch.testing.assert_close(masked_sum(x, mask), expected)


# -- neighbours ---------------------------------------------------------------------------------
def test_knn_matches_brute_force_and_never_picks_padding():
    points, mask = random_sets(n=8, p=20, f=2, seed=3)
    k = 4
    index, neighbours = knn(points, mask, k)
    assert index.shape == neighbours.shape == (8, 20, k)
    for n in range(8):
        valid = torch.nonzero(mask[n]).squeeze(1).tolist()
        for i in valid:
            others = [j for j in valid if j != i]
            distance = {j: float(((points[n, i] - points[n, j]) ** 2).sum()) for j in others}
            expected = sorted(others, key=distance.get)[:k]
            chosen = index[n, i][neighbours[n, i]].tolist()
            assert chosen == expected
            assert all(mask[n, j] for j in chosen), "a padded point was chosen as neighbour"
        assert not neighbours[n][~mask[n]].any(), "padded centres have no neighbours"


def test_knn_flags_missing_neighbours_in_small_sets_and_can_include_self():
    points = torch.randn(1, 6, 2)
    mask = torch.tensor([[True, True, True, False, False, False]])
    index, neighbours = knn(points, mask, k=4)
    assert neighbours[0, :3].sum(1).tolist() == [2, 2, 2]  # only 2 other valid points each
    assert all(mask[0, j] for j in index[0][neighbours[0]].tolist())
    index, neighbours = knn(points, mask, k=1, include_self=True)
    assert index[0, :3, 0].tolist() == [0, 1, 2]
    with pytest.raises(UserError, match="k must be in"):
        knn(points, mask, k=7)


# -- gather and scatter -------------------------------------------------------------------------
def test_gather_takes_rows_per_event():
    x = torch.randn(3, 5, 2)
    index = torch.randint(0, 5, (3, 4, 2))
    out = gather(x, index)
    assert out.shape == (3, 4, 2, 2)
    for n in range(3):
        torch.testing.assert_close(out[n], x[n][index[n]])


def test_scatter_sum_and_mean_over_valid_edges():
    n_events, n_nodes, n_edges = 2, 4, 6
    messages = torch.randn(n_events, n_edges, 3)
    target = torch.randint(0, n_nodes, (n_events, n_edges))
    edge_mask = torch.rand(n_events, n_edges) > 0.3
    total = scatter_sum(messages, target, edge_mask, n_nodes)
    mean = scatter_mean(messages, target, edge_mask, n_nodes)
    for n in range(n_events):
        for node in range(n_nodes):
            into = (target[n] == node) & edge_mask[n]
            torch.testing.assert_close(total[n, node], messages[n][into].sum(0))
            expected = messages[n][into].mean(0) if into.any() else torch.zeros(3)
            torch.testing.assert_close(mean[n, node], expected)


def test_edges_need_valid_endpoints():
    mask = torch.tensor([[True, True, False]])
    edge_index = torch.tensor([[[0, 1], [1, 2], [0, 0]]])
    edge_mask = torch.tensor([[True, True, False]])
    assert edge_endpoints_valid(edge_index, edge_mask, mask).tolist() == [[True, False, False]]


# -- masked batch norm --------------------------------------------------------------------------
def test_masked_batch_norm_uses_only_valid_entries():
    x, mask = random_sets(n=16, p=10, f=3, seed=5)
    x = x * 3 + 2 * mask.unsqueeze(-1)  # valid entries have mean 2, std 3
    norm = MaskedBatchNorm(3, momentum=1.0)
    out = norm(x, mask)
    valid = out[mask]
    torch.testing.assert_close(valid.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(valid.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert (out[~mask] == 0).all()
    reference = torch.nn.BatchNorm1d(3, momentum=1.0)
    reference(x[mask])
    torch.testing.assert_close(norm.running_mean, reference.running_mean)
    torch.testing.assert_close(norm.running_var, reference.running_var)
    # more padding changes nothing, in training and in evaluation
    padded, padded_mask = pad_sets(x, mask, extra=7, value=100.0)
    torch.testing.assert_close(MaskedBatchNorm(3)(padded, padded_mask)[:, :10], out, atol=1e-5, rtol=0)
    norm.eval()
    torch.testing.assert_close(norm(padded, padded_mask)[:, :10], norm(x, mask))
