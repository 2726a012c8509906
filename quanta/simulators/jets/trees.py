"""The ``tree`` view of the jets: each jet's constituents reclustered with kt into a binary tree.

The QCD-aware recursive networks of Louppe, Cho, Becot and Cranmer (JHEP 01
(2019) 057, arXiv:1702.00748) read a jet as its clustering history: a binary
tree whose leaves are the constituents and whose inner nodes are the
pseudojets of each pairwise recombination, the root being the whole jet. kt
reclustering, which merges soft, close pairs first and so mirrors the QCD
shower backwards, worked best for them; it is what this view gives.

Raw jets (see :func:`quanta.simulators.jets.generate.pack`) hold ``constituents``
float32[N, C, 4] as (pT, eta, phi, E), pT-ordered. The P = ``n_constituents``
hardest ones of each jet are reclustered with FastJet (kt, radius
``TREE_RADIUS`` = 10, far above the 1.6 that separates two particles of one
anti-kt R = 0.8 jet, so every pair merges before any pseudojet would go to
the beam: one tree per jet) in the E scheme (four-momenta add).

A jet with n leaves has 2n - 1 nodes, stored in slots of M = 2P - 1:

- slots 0 .. n-1: the leaves, in the stored (decreasing pT) order;
- slots n .. 2n-2: the inner nodes in the order FastJet merged them, so the
  children of a node always come before it and the root (the whole jet) is
  the last real node, slot 2n - 2;
- slots 2n-1 .. M-1: padding (``mask`` False, zeros, children and level -1).

Arrays (M = 2P - 1 nodes per jet):
    ``x`` float32[N, M, 8] node features (names in ``TREE_FEATURE_NAMES``):
        the seven of the constituents view - delta_eta, delta_phi (wrapped to
        [-pi, pi)) of the node's axis from the (anti-kt) jet axis, log pT,
        log E, log(pT / pT_jet), log(E / E_jet), delta_R - and log(1 + m / GeV)
        of the node's invariant mass m (the subjet masses: a W or a top shows up
        at an inner node). Angles are in the jet frame - measured from the
        jet axis, since where a jet lies in (eta, phi) says nothing about what
        it is and a shift in rapidity and azimuth leaves pT and masses alone -
        while pT and E stay the lab frame's, since all jets come from the same
        pT window. The leaves' features are exactly the constituents view's.
    ``mask`` bool[N, M]: real nodes.
    ``children`` int64[N, M, 2]: slots of the two children (the harder in pT
        first), -1 for leaves and padding.
    ``level`` int64[N, M]: 0 for leaves, 1 + the larger of the children's
        levels for inner nodes (the root's is the tree's depth), -1 for padding.
        All nodes of one level can be computed together once the levels below
        are known.
    ``p4`` float32[N, M, 4]: each node's four-momentum (E, px, py, pz) in GeV
        in the lab frame, the sum of its children's (zeros where padded).
"""

from __future__ import annotations

import fastjet
import numpy as np

from quanta.simulators.jets.clustering import delta_phi, hide_fastjet_banner
from quanta.simulators.jets.views import CONSTITUENT_FEATURE_NAMES, particle_features, stored_mask

TREE_RADIUS = 10.0  # kt R: every pair of one R = 0.8 jet merges before the beam, one tree per jet
TREE_FEATURE_NAMES = [*CONSTITUENT_FEATURE_NAMES, "log1p_mass"]
TREES_VERSION = "1"  # change when the tree view changes: it keys its cache


def kt_children(px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray,
                counts: np.ndarray) -> np.ndarray:
    """``int64[N, 2P - 1, 2]``: the two children of each node of each jet's kt tree (-1: none).

    ``px, py, pz, energy`` are float64[N, P] in GeV, jet ``i`` owning its first
    ``counts[i]`` slots. Node slots as in the module docstring: leaves first,
    then FastJet's recombinations in order. The children's order here is
    FastJet's; :func:`trees` puts the harder first. One FastJet clustering per
    jet (the classic interface, the only one that tells the parents of a
    pseudojet); the Python work is one call per inner node.
    """
    n_jets, slots = px.shape
    children = np.full((n_jets, max(2 * slots - 1, 1), 2), -1, dtype=np.int64)
    hide_fastjet_banner()
    definition = fastjet.JetDefinition(fastjet.kt_algorithm, TREE_RADIUS)
    first, second = fastjet.PseudoJet(), fastjet.PseudoJet()
    rows = zip(px.tolist(), py.tolist(), pz.tolist(), energy.tolist(), counts.tolist(), strict=True)
    for i, (jx, jy, jz, je, n) in enumerate(rows):
        if n < 2:
            continue
        momenta = zip(jx[:n], jy[:n], jz[:n], je[:n], strict=True)
        particles = [fastjet.PseudoJet(*p) for p in momenta]
        sequence = fastjet.ClusterSequence(particles, definition)
        nodes = sequence.jets()  # the n inputs, then one pseudojet per recombination
        if len(nodes) != 2 * n - 1 or nodes[-1].cluster_hist_index() != 2 * n - 2:
            raise RuntimeError(f"kt reclustering of jet {i} did not give one tree of its {n} "
                               f"constituents ({len(nodes)} pseudojets)")
        for slot in range(n, 2 * n - 1):
            nodes[slot].has_parents(first, second)
            # no beam recombination before the root: history index = slot
            children[i, slot] = first.cluster_hist_index(), second.cluster_hist_index()
    return children


def trees(raw: dict[str, np.ndarray], n_constituents: int) -> dict[str, np.ndarray]:
    """The tree view's arrays ``x, mask, children, level, p4`` (see the module docstring)."""
    stored = raw["constituents"]
    take = min(n_constituents, stored.shape[1])
    parts = stored[:, :take].astype(np.float64)  # [N, take, 4] as (pT, eta, phi, E)
    counts = stored_mask(raw)[:, :take].sum(axis=1).astype(np.int64)  # leaves per jet
    n_jets, slots = len(parts), max(2 * n_constituents - 1, 1)
    pt, eta, phi, energy = np.moveaxis(parts, -1, 0)
    leaf = np.arange(take)[None, :] < counts[:, None]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    px, py, pz, energy = (np.where(leaf, a, 0.0) for a in (px, py, pz, energy))
    children = kt_children(px, py, pz, energy, counts)
    if children.shape[1] < slots:  # more slots asked than ever stored
        children = np.pad(children, ((0, 0), (0, slots - children.shape[1]), (0, 0)),
                          constant_values=-1)

    p4 = np.zeros((n_jets, slots, 4))  # (E, px, py, pz) in GeV
    p4[:, :take] = np.stack([energy, px, py, pz], axis=-1)
    level = np.where(np.arange(slots)[None, :] < counts[:, None], 0, -1).astype(np.int64)
    node_pt = np.hypot(p4[..., 1], p4[..., 2])
    for step in range(max(take - 1, 0)):  # the step-th recombination of every jet that has one
        jet = np.flatnonzero(counts > step + 1)
        node = counts[jet] + step
        left, right = children[jet, node, 0], children[jet, node, 1]
        p4[jet, node] = p4[jet, left] + p4[jet, right]  # the E scheme, as FastJet sums them
        node_pt[jet, node] = np.hypot(p4[jet, node, 1], p4[jet, node, 2])
        level[jet, node] = 1 + np.maximum(level[jet, left], level[jet, right])
        swap = node_pt[jet, right] > node_pt[jet, left]  # the harder child first
        children[jet[swap], node[swap]] = children[jet[swap], node[swap]][:, ::-1]

    mask = level >= 0
    x = node_features(p4, mask, raw["jet"].astype(np.float64))
    return {"x": x, "mask": mask, "children": children, "level": level,
            "p4": np.where(mask[..., None], p4, 0.0).astype(np.float32)}


def node_features(p4: np.ndarray, mask: np.ndarray, jet: np.ndarray) -> np.ndarray:
    """``float32[N, M, 8]``: the ``TREE_FEATURE_NAMES`` of nodes with four-momenta ``p4``.

    ``p4`` is float64[N, M, 4] as (E, px, py, pz) in GeV; ``jet`` float64[N, 5]
    the anti-kt jets as (pT, eta, phi, mass, E), whose axis the angles are
    measured from. Padded nodes (``mask`` False) get zeros.
    """
    energy, px, py, pz = np.moveaxis(np.where(mask[..., None], p4, 1.0), -1, 0)  # log-safe padding
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    d_eta = eta - jet[:, None, 1]
    d_phi = delta_phi(np.arctan2(py, px), jet[:, None, 2])
    mass = np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))
    x = np.concatenate([particle_features(d_eta, d_phi, pt, energy, jet),
                        np.log1p(mass)[..., None]], axis=-1)
    return np.where(mask[..., None], x, 0.0).astype(np.float32)


__all__ = ["TREE_FEATURE_NAMES", "TREE_RADIUS", "TREES_VERSION", "kt_children", "node_features",
           "trees"]
