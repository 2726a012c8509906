"""The QCD-aware recursive network: the recursion level by level, invariances, errors, tagging."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.recursive import RecursiveJet
from quanta.simulators.jets.trees import TREE_FEATURE_NAMES, trees
from tests.models.test_graph import jets_constituents
from tests.simulators.test_jet_trees import jets_trees, synthetic_raw

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"hidden": 16, "head": (16,)}


def as_tensors(arrays: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    """The forward() inputs ``x, mask, children, level`` of a tree view's arrays."""
    return tuple(torch.from_numpy(np.ascontiguousarray(arrays[name]))
                 for name in RecursiveJet.inputs)


def recursive_reference(model: RecursiveJet, x, mask, children) -> torch.Tensor:
    """Root embeddings by plain recursion from each root, one jet and one node at a time."""
    roots = []
    for jet in range(len(x)):
        own = model.project(x[jet])  # [M, H]

        def embed(node: int, jet: int = jet, own: torch.Tensor = own) -> torch.Tensor:
            left, right = children[jet, node].tolist()
            if left < 0:
                return own[node]
            return model.cell(embed(left)[None], embed(right)[None], own[node][None])[0]

        roots.append(embed(int(mask[jet].sum()) - 1))
    return torch.stack(roots)


def permuted_leaves(arrays: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """The same trees with each jet's leaves stored in another order (children re-pointed)."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in arrays.items()}
    for jet in range(len(arrays["x"])):
        n = (int(arrays["mask"][jet].sum()) + 1) // 2
        order = rng.permutation(n)  # new slot j holds old leaf order[j]
        new_slot = np.arange(arrays["x"].shape[1])
        new_slot[order] = np.arange(n)
        for name in ("x", "level", "p4"):
            out[name][jet, :n] = arrays[name][jet, order]
        inner = arrays["children"][jet] >= 0
        out["children"][jet][inner] = new_slot[arrays["children"][jet][inner]]
    return out


def padded(arrays: dict[str, np.ndarray], extra: int = 7) -> dict[str, np.ndarray]:
    """The same trees with ``extra`` more padded slots holding garbage features."""
    pads = {"x": 5.0, "mask": False, "children": -1, "level": -1, "p4": 0.0}
    out = {}
    for name, array in arrays.items():
        if name in pads:
            pad = [(0, 0), (0, extra)] + [(0, 0)] * (array.ndim - 2)
            out[name] = np.pad(array, pad, constant_values=pads[name])
    return out


@pytest.fixture(scope="module")
def real_trees():
    data = jets_trees(48)
    return {name: data[name] for name in ("x", "mask", "children", "level", "p4")}


@pytest.mark.parametrize("gated", [False, True])
def test_the_level_by_level_recursion_is_the_recursion(real_trees, gated):
    torch.manual_seed(0)
    model = RecursiveJet(8, out_features=2, gated=gated, **SMALL).eval()
    x, mask, children, level = as_tensors(real_trees)
    with torch.no_grad():
        fast = model.forward_features(x, mask, children, level)
        slow = recursive_reference(model, x[:6], mask[:6], children[:6])
        out = model(x, mask, children, level)
    assert fast.shape == (48, 16) and out.shape == (48, 2) and torch.isfinite(out).all()
    torch.testing.assert_close(fast[:6], slow, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("gated", [False, True])
def test_output_depends_on_the_tree_not_on_its_slots(real_trees, gated):
    torch.manual_seed(1)
    model = RecursiveJet(8, gated=gated, **SMALL).eval()
    with torch.no_grad():
        out = model(*as_tensors(real_trees))
        torch.testing.assert_close(model(*as_tensors(permuted_leaves(real_trees))), out,
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(*as_tensors(padded(real_trees))), out,
                                   atol=1e-5, rtol=1e-5)
        shuffled_jets = torch.randperm(48)
        torch.testing.assert_close(model(*(t[shuffled_jets] for t in as_tensors(real_trees))),
                                   out[shuffled_jets], atol=1e-5, rtol=1e-5)


def test_the_stored_order_of_the_constituents_does_not_matter_end_to_end():
    raw = synthetic_raw(n_jets=8, capacity=12, seed=2)
    shuffled = {**raw, "constituents": raw["constituents"].copy()}
    rng = np.random.default_rng(4)
    for i, n in enumerate(raw["multiplicity"]):
        shuffled["constituents"][i, :n] = raw["constituents"][i, rng.permutation(n)]
    model = RecursiveJet(8, **SMALL).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(*as_tensors(trees(shuffled, 12))),
                                   model(*as_tensors(trees(raw, 12))), atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter(real_trees):
    model = RecursiveJet(8, gated=True, **SMALL)
    model(*as_tensors(real_trees)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert sum(p.numel() for p in RecursiveJet(8).parameters()) == 12_049  # hidden 40, head 64, 64


def test_bad_parameters_are_one_line_user_errors():
    with pytest.raises(UserError, match=r"^recursive_jet: hidden must be a positive integer; "
                                        r"received 0$"):
        RecursiveJet(8, hidden=0)
    with pytest.raises(UserError, match=r"^recursive_jet: activation must be one of .*; "
                                        r"received 'sigma'; did you mean 'sigmoid'\?$"):
        RecursiveJet(8, activation="sigma")
    sets = jets_constituents(200, 30)
    with pytest.raises(UserError, match=r"^recursive_jet: inputs must be trees x\[N, M, F\] with "
                                        r"mask\[N, M\], children\[N, M, 2\] and level\[N, M\] "
                                        r"\(the jets source's tree view\); received arrays"):
        quanta.fit("recursive_jet", sets, task="binary", epochs=1, verbose=False)


def test_recursive_network_tags_top_jets(tmp_path):
    # 1000 shared jets, 30 constituents (59 nodes), 5 epochs of 128, hidden 32 (4.5k parameters):
    # test AUC 0.946-0.953 measured over seeds 0-2 (about 3.5 s on two busy cores)
    run = quanta.fit("recursive_jet", jets_trees(1000), task="binary",
                     params={"hidden": 32, "head": [32]}, epochs=5, batch_size=128, lr=3e-3,
                     patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.9, run.metrics["test"]
    # the run's input summary reads the trees as sets of nodes, the int arrays left alone
    summary = json.loads((run.directory / "inputs.json").read_text())
    assert summary["layout"] == "set" and summary["input_shape"] == [59, 8]
    assert [h["name"] for h in summary["features"]["histograms"]] == TREE_FEATURE_NAMES
    assert summary["multiplicity"]["edges"][-1] == 59.5  # real nodes per tree, 2n - 1


@pytest.mark.slow
def test_gated_recursive_network_tags_top_jets(tmp_path):
    # the gated cell, 8 epochs: test AUC 0.950-0.956 measured over seeds 0-2 (about 7 s)
    run = quanta.fit("recursive_jet", jets_trees(1000), task="binary",
                     params={"hidden": 32, "head": [32], "gated": True}, epochs=8, batch_size=128,
                     lr=3e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.9, run.metrics["test"]
