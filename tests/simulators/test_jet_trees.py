"""The jets' tree view: kt clustering trees that are valid, agree with FastJet, go through a run.

The real trees are built from the shared 3000-jet sample (seed 1) that the set
and graph model tests generate too; building them costs about 2 s (measured
1100-2000 jets/s at 30 constituents on two busy cores) and is cached for the
session.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import pytest

import quanta
from quanta.errors import UserError
from quanta.simulators.jets.trees import TREE_FEATURE_NAMES, TREE_RADIUS, trees
from tests.models.test_graph import jets_constituents

P = 30  # constituents per jet in these tests


def jets_trees(n_jets: int = 1000, n_constituents: int = P):
    """The first ``n_jets`` jets of the shared 3000 (seed 1) in the tree view."""
    data = quanta.data.load("jets", view="tree", size=3000, seed=1, n_constituents=n_constituents,
                            progress=False)
    return data.subset(np.arange(n_jets))


@pytest.fixture(scope="module")
def both():
    """(tree view, constituents view) of the same 3000 jets."""
    return jets_trees(3000), jets_constituents(3000, P)


def synthetic_raw(n_jets: int = 5, capacity: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw jets as ``generate.pack`` stores them, with random (pT, eta, phi, E) constituents."""
    rng = np.random.default_rng(seed)
    multiplicity = rng.integers(1, capacity + 1, n_jets)
    multiplicity[0] = capacity
    pt = np.sort(rng.exponential(40.0, (n_jets, capacity)) + 1.0, axis=1)[:, ::-1]
    eta, phi = rng.normal(0.3, 0.3, (2, n_jets, capacity))
    parts = np.stack([pt, eta, phi, pt * np.cosh(eta)], axis=-1)
    parts[np.arange(capacity)[None, :] >= multiplicity[:, None]] = 0.0
    e, px = parts[..., 3].sum(1), (pt * np.cos(phi) * (parts[..., 0] > 0)).sum(1)
    py, pz = (pt * np.sin(phi) * (parts[..., 0] > 0)).sum(1), (parts[..., 0] * np.sinh(eta)).sum(1)
    jet_pt = np.hypot(px, py)
    jet = np.stack([jet_pt, np.arcsinh(pz / jet_pt), np.arctan2(py, px),
                    np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0)), e], axis=1)
    return {"constituents": parts.astype(np.float32), "multiplicity": multiplicity.astype(np.int32),
            "jet": jet.astype(np.float32), "y": np.zeros(n_jets, dtype=np.int64)}


def test_shapes_and_node_counts(both):
    tree, sets = both
    m = 2 * P - 1
    assert tree.feature_names == TREE_FEATURE_NAMES and len(TREE_FEATURE_NAMES) == 8
    assert tree.shapes == {"y": (), "x": (m, 8), "mask": (m,), "children": (m, 2), "level": (m,),
                           "p4": (m, 4)}
    assert tree["children"].dtype == tree["level"].dtype == np.int64 and tree.x.dtype == np.float32
    assert np.isfinite(tree.x).all() and np.isfinite(tree["p4"]).all()
    leaves = sets["mask"].sum(1)
    assert leaves.min() >= 1
    np.testing.assert_array_equal(tree["mask"].sum(1), 2 * leaves - 1)  # n leaves -> 2n - 1 nodes
    np.testing.assert_array_equal(tree["mask"], np.arange(m)[None, :] < (2 * leaves - 1)[:, None])
    np.testing.assert_array_equal(tree.y, sets.y)


def test_every_node_is_the_sum_of_its_children_and_children_come_first(both):
    tree, sets = both
    mask, children, level = tree["mask"], tree["children"], tree["level"]
    p4 = tree["p4"].astype(float)
    n = sets["mask"].sum(1)
    slot = np.arange(mask.shape[1])[None, :]
    inner = mask & (slot >= n[:, None])
    assert ((children >= 0).all(-1) == inner).all() and (children[~inner] == -1).all()
    jet, node = np.nonzero(inner)
    left, right = children[jet, node, 0], children[jet, node, 1]
    assert (left < node).all() and (right < node).all() and (left != right).all()
    # every real node but the root (slot 2n - 2) is the child of exactly one node
    counted = np.zeros(mask.shape, dtype=int)
    np.add.at(counted, (np.concatenate([jet, jet]), np.concatenate([left, right])), 1)
    root = 2 * n - 2
    expected = mask.astype(int)
    expected[np.arange(len(n)), root] = 0
    np.testing.assert_array_equal(counted, expected)
    # four-momenta add up, the root is the jet of the P hardest constituents, the harder child first
    scale = p4[jet, node, :1]
    np.testing.assert_allclose((p4[jet, left] + p4[jet, right]) / scale, p4[jet, node] / scale,
                               atol=3e-6)
    total = sets["p4"].astype(float).sum(1)
    np.testing.assert_allclose(p4[np.arange(len(n)), root], total, rtol=1e-5, atol=1e-3)
    pt = np.hypot(p4[..., 1], p4[..., 2])
    assert (pt[jet, left] >= pt[jet, right] * (1 - 1e-6)).all()
    # levels: 0 for leaves, 1 + the larger of the children's, -1 for padding
    assert (level[mask & ~inner] == 0).all() and (level[~mask] == -1).all()
    np.testing.assert_array_equal(level[jet, node],
                                  1 + np.maximum(level[jet, left], level[jet, right]))


def test_leaves_are_the_constituents_view(both):
    tree, sets = both
    leaf = sets["mask"]
    np.testing.assert_allclose(tree.x[:, :P, :7][leaf], sets.x[leaf], atol=2e-6)
    np.testing.assert_allclose(tree["p4"][:, :P][leaf], sets["p4"][leaf], rtol=1e-6, atol=1e-4)
    # inner nodes carry mass: the root's log(1 + m) is the (P-constituent) jet mass
    p4 = tree["p4"].astype(float)
    root = p4[np.arange(len(p4)), tree["mask"].sum(1) - 1]
    mass = np.sqrt(np.maximum(root[:, 0] ** 2 - (root[:, 1:] ** 2).sum(1), 0))
    root_x = tree.x[np.arange(len(p4)), tree["mask"].sum(1) - 1]
    np.testing.assert_allclose(root_x[:, 7], np.log1p(mass), atol=1e-3)


def test_the_merge_order_is_fastjets_kt_sequence(both):
    """The nodes, slot by slot, are the pseudojets FastJet's own (Awkward) interface gives."""
    tree, _ = both
    p4, mask = tree["p4"][:200].astype(float), tree["mask"][:200]
    n = (mask.sum(1) + 1) // 2
    leaves = [p4[i, :n[i]] for i in range(len(n))]
    events = ak.Array([{"px": v[:, 1], "py": v[:, 2], "pz": v[:, 3], "E": v[:, 0]} for v in leaves])
    events = ak.zip({k: events[k] for k in ("px", "py", "pz", "E")})
    kt = fastjet.JetDefinition(fastjet.kt_algorithm, TREE_RADIUS)
    sequence = fastjet.ClusterSequence(events, kt)
    nodes = sequence.jets()
    np.testing.assert_array_equal(ak.to_numpy(ak.num(nodes)), mask.sum(1))
    theirs = np.stack([ak.to_numpy(ak.flatten(nodes[k])) for k in ("E", "px", "py", "pz")], axis=1)
    ours = p4[mask]
    np.testing.assert_allclose(ours / ours[:, :1], theirs / ours[:, :1], atol=1e-5)


def test_the_tree_does_not_depend_on_the_stored_order_of_the_constituents():
    raw = synthetic_raw()
    built = trees(raw, 12)
    shuffled = {**raw, "constituents": raw["constituents"].copy()}
    rng = np.random.default_rng(3)
    for i, n in enumerate(raw["multiplicity"]):
        shuffled["constituents"][i, :n] = raw["constituents"][i, rng.permutation(n)]
    again = trees(shuffled, 12)
    for name in ("mask", "level"):
        np.testing.assert_array_equal(again[name], built[name])
    for key in ("p4", "x"):  # the same nodes, inner ones merged in the same order
        inner = built["level"] > 0
        np.testing.assert_allclose(again[key][inner], built[key][inner], rtol=1e-5, atol=1e-5)


def test_small_jets_and_more_slots_than_stored():
    raw = synthetic_raw(n_jets=6, capacity=4, seed=5)
    raw["multiplicity"][1] = 1
    raw["constituents"][1, 1:] = 0.0
    built = trees(raw, 6)  # 6 slots asked, 4 stored: M = 11 node slots
    assert built["x"].shape == (6, 11, 8) and built["children"].shape == (6, 11, 2)
    np.testing.assert_array_equal(built["mask"].sum(1), 2 * raw["multiplicity"] - 1)
    assert built["mask"][1].tolist() == [True] + [False] * 10 and built["level"][1, 0] == 0
    assert (built["children"][1] == -1).all()


def test_standardisation_touches_only_real_node_features(both):
    tree, _ = both
    part = tree.subset(np.arange(500))
    out = part.standardize().apply(part)
    for name in ("children", "level", "mask", "p4"):
        assert out[name] is part[name]
    real = out.x[part["mask"]]
    np.testing.assert_allclose(real.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(real.std(0), 1, atol=1e-3)
    assert (out.x[~part["mask"]] == 0).all()


@pytest.mark.slow
def test_a_run_on_the_tree_view_reports_its_inputs(tmp_path):
    # 300 of the shared jets, one epoch of a tiny network, then the report (about 30 s, mostly
    # drawing; the default learning test in tests/models/test_recursive.py checks inputs.json)
    run = quanta.fit("recursive_jet", jets_trees(300), task="binary",
                     params={"hidden": 8, "head": [8]}, epochs=1, batch_size=64, patience=0,
                     out=tmp_path, verbose=False)
    text = run.report().read_text()
    assert "Per-element features" in text and "log1p_mass" in text


def test_a_bad_view_is_named():
    with pytest.raises(UserError, match=r"^data source 'jets'\.view: input should be 'features', "
                                        r"'constituents', 'image' or 'tree', received 'trees'$"):
        quanta.data.load("jets", view="trees", size=120)
