"""Deep Sets / PFN / EFN: shapes, permutation and padding invariance, IRC safety, top tagging."""

from __future__ import annotations

import math

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.deepsets import DeepSets
from tests.models.test_graph import jets_constituents, pad_sets, permute_sets, random_sets

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("pooling", ["sum", "mean", "energy_weighted"])
def test_shapes_and_invariances(pooling):
    torch.manual_seed(0)
    model = DeepSets.for_data({"x": (12, 7), "mask": (12,)}, out_features=3, phi=(16, 8), rho=(16,),
                              pooling=pooling).eval()
    x, mask = random_sets(n=6, p=12, f=7)
    out = model(x, mask)
    assert out.shape == (6, 3) and torch.isfinite(out).all()
    torch.testing.assert_close(model(*permute_sets(x, mask)), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(*pad_sets(x, mask, extra=9, value=3.0)), out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["sum", "mean", "energy_weighted"])
def test_an_empty_set_gives_finite_outputs_and_gradients(pooling):
    model = DeepSets(7, phi=(8,), rho=(8,), pooling=pooling)
    x, mask = random_sets(n=3, p=5, f=7)
    mask[0] = False  # a jet without constituents
    out = model(x * mask.unsqueeze(-1), mask)
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_a_sum_counts_elements_and_a_mean_does_not():
    x = torch.randn(1, 1, 4).expand(1, 6, 4)  # one element repeated six times
    mask = torch.tensor([[True, True, True, False, False, False]])
    for pooling, changes in (("sum", True), ("mean", False)):
        model = DeepSets(4, phi=(8,), rho=(), pooling=pooling).eval()
        three, six = model(x, mask), model(x, torch.ones(1, 6, dtype=torch.bool))
        assert (not torch.allclose(three, six)) == changes, pooling


def test_energy_flow_network_is_infrared_and_collinear_safe():
    """EFN on unstandardised (delta_eta, delta_phi, ..., log z): soft and collinear emissions change nothing."""
    torch.manual_seed(1)
    model = DeepSets(7, phi=(16, 16), rho=(16,), pooling="energy_weighted").eval()  # beta = 1 as built
    z = torch.tensor([0.5, 0.3, 0.2])
    x = torch.zeros(1, 5, 7)
    x[0, :3, 0], x[0, :3, 1] = torch.tensor([0.1, -0.2, 0.3]), torch.tensor([0.0, 0.25, -0.1])
    x[0, :3, 4] = z.log()
    x[0, :3, 2] = torch.randn(3)  # other features: the EFN must not look at them
    mask = torch.tensor([[True, True, True, False, False]])
    out = model(x, mask)
    soft = x.clone()
    soft[0, 3, :2], soft[0, 3, 4] = torch.tensor([0.5, 0.5]), math.log(1e-9)  # a very soft emission
    collinear = x.clone()
    collinear[0, 3] = x[0, 0]
    collinear[0, [0, 3], 4] = math.log(0.25)  # particle 0 split into two collinear halves
    more = torch.tensor([[True, True, True, True, False]])
    torch.testing.assert_close(model(soft, more), out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model(collinear, more), out, atol=1e-6, rtol=1e-5)
    # the PFN (sum of phi over all features) sees the soft particle
    pfn = DeepSets(7, phi=(16, 16), rho=(16,)).eval()
    assert not torch.allclose(pfn(soft, more), pfn(x, mask))


def test_bad_parameters_are_named():
    with pytest.raises(UserError, match="pooling must be one of sum, mean, energy_weighted"):
        DeepSets(7, pooling="max")
    with pytest.raises(UserError, match="feature index 9"):
        DeepSets(7, pooling="energy_weighted", weight_feature=9)
    with pytest.raises(UserError, match="sets x"):
        DeepSets.for_data({"x": (7,)}, 1)


def test_particle_flow_network_tags_top_jets(tmp_path):
    # 1200 jets x 30 constituents, 4 epochs of 128: test AUC 0.943 measured (3-7 s on two busy cores)
    data = jets_constituents(1200, 30)
    run = quanta.fit("deepsets", data, task="binary", params={"phi": [32, 32], "rho": [32]}, epochs=4,
                     batch_size=128, lr=2e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.88, run.metrics["test"]


def test_energy_flow_network_tags_top_jets(tmp_path):
    # same data, EFN weights from log_pt_rel and phi on (delta_eta, delta_phi): test AUC 0.944
    # measured (2-3 s)
    data = jets_constituents(1200, 30)
    run = quanta.fit("deepsets", data, task="binary",
                     params={"phi": [32, 32], "rho": [32], "pooling": "energy_weighted"}, epochs=4,
                     batch_size=128, lr=3e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.87, run.metrics["test"]
