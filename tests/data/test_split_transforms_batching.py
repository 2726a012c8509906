"""Splits, the standardising transform, and in-memory index-gather batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quanta.data.batching import DeviceData
from quanta.data.dataset import Dataset, from_arrays
from quanta.data.split import split
from quanta.data.transforms import Standardize
from quanta.errors import UserError


def test_split_is_disjoint_complete_and_seeded():
    data = from_arrays(np.arange(100, dtype=np.float32), np.arange(100) % 2)
    parts = split(data, (0.7, 0.15, 0.15), seed=3)
    values = np.concatenate([parts[k].x[:, 0] for k in ("train", "valid", "test")])
    assert sorted(values) == list(range(100))
    assert [len(parts[k]) for k in ("train", "valid", "test")] == [70, 15, 15]
    again = split(data, (0.7, 0.15, 0.15), seed=3)
    assert np.array_equal(again["test"].x, parts["test"].x)
    assert not np.array_equal(split(data, (0.7, 0.15, 0.15), seed=4)["test"].x, parts["test"].x)
    with pytest.raises(UserError, match="data.split"):
        split(data, (0.7, -0.1, 0.4))


def test_standardize_fits_train_only_and_respects_masks():
    rng = np.random.default_rng(0)
    train = from_arrays(rng.normal(5, 3, size=(1000, 4)), np.zeros(1000))
    other = from_arrays(rng.normal(50, 1, size=(10, 4)), np.zeros(10))
    transform = Standardize().fit(train)
    out = transform.apply(train).x
    assert np.allclose(out.mean(0), 0, atol=1e-5) and np.allclose(out.std(0), 1, atol=1e-4)
    assert transform.apply(other).x.mean() > 10  # test data is not re-centred on itself
    restored = Standardize.from_state(transform.state())
    assert np.array_equal(restored.apply(other).x, transform.apply(other).x)

    x = rng.normal(2, 2, size=(50, 6, 3)).astype(np.float32)
    mask = rng.random((50, 6)) > 0.3
    x[~mask] = 0
    sets = Dataset({"x": x, "mask": mask})
    out = Standardize().fit(sets).apply(sets).x
    assert np.all(out[~mask] == 0)
    assert np.allclose(out[mask].mean(0), 0, atol=1e-5)
    with pytest.raises(RuntimeError, match="call fit first"):
        Standardize().apply(sets)


def test_index_gather_batches_cover_each_sample_once():
    data = from_arrays(np.arange(1000, dtype=np.float32), np.arange(1000) % 2)
    held = DeviceData(data, "cpu")
    seen = torch.cat([b["x"][:, 0] for b in held.batches(128, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(1000))
    first = next(held.batches(128, torch.Generator().manual_seed(0)))["x"]
    assert torch.equal(first, next(held.batches(128, torch.Generator().manual_seed(0)))["x"])
    ordered = torch.cat([b["y"] for b in held.in_order(300)])
    assert torch.equal(ordered, torch.from_numpy(data.y))


def test_dataset_checks():
    with pytest.raises(UserError, match="differ in length"):
        Dataset({"x": np.zeros((3, 2)), "y": np.zeros(4)})
    with pytest.raises(UserError, match="2 NaN and 1 Inf"):
        Dataset({"x": np.array([[np.nan, 1], [np.inf, np.nan]])}, name="d").check_finite()
    with pytest.raises(UserError, match="must be numeric"):
        from_arrays(np.array([["a"]]), None)
