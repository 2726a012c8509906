"""Tasks: target checks, losses, scores and on-device metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from quanta.errors import UserError
from quanta.tasks import TASKS
from quanta.tasks.binary import roc_auc


def test_registry_descriptions_match_docstrings():
    from quanta.registry import summary_line

    for name, description in TASKS.describe().items():
        assert summary_line(TASKS.get(name)) == description


def test_device_auc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    score = np.round(rng.normal(size=3000) + y, 1)  # many ties
    weight = rng.uniform(0.1, 2, 3000)
    t = torch.from_numpy
    assert roc_auc(t(score), t(y)).item() == pytest.approx(roc_auc_score(y, score), abs=1e-6)
    assert roc_auc(t(score), t(y), t(weight)).item() == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight), abs=1e-6)


def test_binary_targets():
    task = TASKS.create("binary")
    assert task.check_targets(np.array([0, 1, 1.0]), "y").dtype == np.float32
    with pytest.raises(UserError, match="needs labels 0 and 1"):
        task.check_targets(np.array([0, 1, 2]), "y")
    with pytest.raises(UserError, match="needs both classes"):
        task.check_targets(np.zeros(5), "y")
    with pytest.raises(UserError, match="whole numbers"):
        task.check_targets(np.array([0, 0.5, 1]), "y")


def test_multiclass_and_regression():
    multi = TASKS.create("multiclass")
    y = multi.check_targets(np.array([0, 2, 1, 2]), "y")
    assert multi.out_features(y) == 3
    logits = torch.tensor([[5.0, 0, 0], [0, 0, 5], [0, 5, 0], [5, 0, 0]])
    metrics = multi.metrics(logits, torch.from_numpy(y))
    assert metrics["accuracy"].item() == pytest.approx(0.75)
    assert torch.allclose(multi.scores(logits).sum(1), torch.ones(4))
    with pytest.raises(UserError, match="0..K-1"):
        multi.check_targets(np.array([-1, 0, 1]), "y")

    reg = TASKS.create("regression")
    y2 = reg.check_targets(np.array([[1.0, 2.0], [3.0, 4.0]]), "y")
    assert reg.out_features(y2) == 2
    loss = reg.loss(torch.tensor([[1.0, 2.0], [3.0, 6.0]]), torch.from_numpy(y2))
    assert loss.item() == pytest.approx(1.0)  # per-sample means 0 and 2, averaged
    with pytest.raises(UserError, match="numeric targets"):
        reg.check_targets(np.array(["a", "b"]), "y")


def test_per_element_targets_with_a_mask():
    """Edges of a graph or steps of a sequence: padded elements take no part."""
    binary = TASKS.create("binary")
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, False]])
    good = torch.tensor([[5.0, -5.0, 99.0], [-5.0, 5.0, -99.0]])  # padded logits are nonsense
    assert binary.loss(good, target, mask=mask).item() < 0.01
    assert binary.loss(good.unsqueeze(-1), target, mask=mask).item() < 0.01
    assert binary.metrics(good, target, mask=mask)["auc"].item() == pytest.approx(1.0)
    weight = torch.tensor([1.0, 0.0])
    bad_second = torch.tensor([[5.0, -5.0, 0.0], [5.0, -5.0, 0.0]])
    assert binary.loss(bad_second, target, weight, mask).item() < 0.01  # sample 2 has weight 0

    multi = TASKS.create("multiclass")
    steps = torch.tensor([[2, 0, 1]])
    logits = torch.nn.functional.one_hot(torch.tensor([[2, 0, 2]]), 3).float() * 10
    assert multi.metrics(logits, steps)["accuracy"].item() == pytest.approx(2 / 3)
    assert multi.metrics(logits, steps, mask=torch.tensor([[True, True, False]]))["accuracy"].item() == 1.0
