"""L1, L2 and elastic-net penalties: what they cover, their value, and L1's sparsity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.models.dense import ResidualMLP
from quanta.train.regularization import penalized_weights, weight_penalty

pytestmark = pytest.mark.usefixtures("one_thread")


def test_penalties_cover_weights_not_biases_or_norms():
    model = ResidualMLP(4, 2, width=8, blocks=1, norm="layer")
    names = {id(p): n for n, p in model.named_parameters()}
    covered = {names[id(p)] for p in penalized_weights(model)}
    assert covered == {"stem.weight", "layers.0.linear1.weight", "layers.0.linear2.weight", "head.weight"}
    fixup = ResidualMLP(4, 2, width=8, blocks=1, norm="none", residual_init="fixup")
    assert all(p.ndim >= 2 for p in penalized_weights(fixup))  # scalar biases and multipliers are left out
    model.stem.weight.requires_grad_(False)
    assert "stem.weight" not in {names[id(p)] for p in penalized_weights(model)}


def test_penalty_value_is_the_formula():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2), torch.nn.Linear(2, 1))
    w1, w2 = model[0].weight, model[2].weight
    l1, l2 = 0.3, 0.7
    expected = l1 * (w1.abs().sum() + w2.abs().sum()) + l2 * (w1.pow(2).sum() + w2.pow(2).sum())
    assert weight_penalty(model, l1, l2)().item() == pytest.approx(expected.item())
    assert weight_penalty(model, 0.0, 0.0) is None


def sparse_linear(n: int = 2000, features: int = 20, seed: int = 0):
    """y = 2 x0 - 3 x1 + 1.5 x2 + noise: 17 of the 20 inputs are irrelevant."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (2 * x[:, 0] - 3 * x[:, 1] + 1.5 * x[:, 2] + 0.3 * rng.normal(size=n)).astype(np.float32)
    return x, y


def fit_linear(tmp_path, name: str, **penalty):
    x, y = sparse_linear()
    run = quanta.fit("mlp", (x, y), task="regression", params={"hidden": []}, epochs=15, batch_size=128,
                     optimizer="sgd", momentum=0.0, lr=0.05, schedule="cosine", patience=0, out=tmp_path,
                     name=name, verbose=False, standardize_targets=False, **penalty)  # weights in y's units
    return run, run.estimator.model.layers[0].weight.detach().reshape(-1).abs()


def test_l1_drives_irrelevant_weights_to_zero(tmp_path):
    plain, w_plain = fit_linear(tmp_path, "plain")
    lasso, w_lasso = fit_linear(tmp_path, "lasso", l1=0.05)
    # measured (2000 samples, 15 epochs, ~3 s each): with l1 = 0.05 all 17 irrelevant weights end below
    # 1.4e-3 (SGD keeps them jittering within ~lr * l1 of zero); without a penalty 6 of 17 are below 2e-3
    # and the largest is 0.013 (the noise they fit); the real weights are 1.5 to 3
    assert int((w_lasso[3:] < 2e-3).sum()) >= 15, w_lasso
    assert int((w_plain[3:] < 2e-3).sum()) <= 10, w_plain
    assert w_lasso[3:].sum() < 0.3 * w_plain[3:].sum()
    assert torch.all(w_lasso[:3] > 1.0)  # the three real inputs survive (shrunk a little)
    assert lasso.metrics["test"]["r2"] > 0.98 and plain.metrics["test"]["r2"] > 0.98  # measured 0.9945, 0.9947
