"""Truth matching of top jets: the top quark and its three decay quarks inside the jet.

A jet from a ttbar event is a *top jet* only when one top quark and all three
quarks of its decay t -> b W, W -> q q' lie within Delta R < 0.8 of the jet
axis. This is the containment condition of the public top-tagging reference
sample (Kasieczka, Plehn et al., arXiv:1902.09914): without it, the "signal"
class would contain jets holding only the b or only the W, and a tagger would
be asked to find a top that is not there.

The partons are read from the Pythia event record, vectorised over a batch:
the decay quarks are the quarks whose first mother is a top (the b, or rarely a
d or s) or a W; the top is the mother of its decay quark (its last copy, after
showering). The charge of the mother pairs each W with its top (t -> W+ b,
t-bar -> W- b-bar).
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.jets.clustering import (
    JET_RADIUS,
    EventRecord,
    LeadingJets,
    delta_phi,
    pseudorapidity,
)

PARTONS_PER_TOP = 4  # the top, its b, and the two quarks from its W


def top_contained(record: EventRecord, jets: LeadingJets, radius: float = JET_RADIUS) -> np.ndarray:
    """``bool[J]``: whether a top and its decay quarks all lie within ``radius`` of each jet axis."""
    event = record.event_index
    mother = record.offsets[event] + record.mother1  # flat index of each particle's first mother
    absolute_id = np.abs(record.pdg_id)
    mother_id = record.pdg_id[mother]
    is_quark = (absolute_id >= 1) & (absolute_id <= 5)
    from_top = np.flatnonzero(is_quark & (np.abs(mother_id) == 6))
    from_w = np.flatnonzero(is_quark & (np.abs(mother_id) == 24))

    tops = mother[from_top]
    partons = np.concatenate([tops, from_top, from_w])
    parent_id = np.concatenate([record.pdg_id[tops], record.pdg_id[tops], record.pdg_id[mother[from_w]]])
    sign = np.sign(parent_id)  # +1 for the top and its decay products, -1 for the anti-top's

    slot = np.full(len(record.counts), -1)
    slot[jets.event] = np.arange(len(jets.event))
    jet = slot[event[partons]]
    partons, sign, jet = partons[jet >= 0], sign[jet >= 0], jet[jet >= 0]

    eta = pseudorapidity(record.px[partons], record.py[partons], record.pz[partons])
    phi = np.arctan2(record.py[partons], record.px[partons])
    distance = np.hypot(eta - jets.eta[jet], delta_phi(phi, jets.phi[jet]))

    key = 2 * jet + (sign > 0)  # one entry per (jet, top charge)
    found = np.bincount(key, minlength=2 * len(jets.event))
    inside = np.bincount(key, weights=distance < radius, minlength=2 * len(jets.event))
    contained = (found == PARTONS_PER_TOP) & (inside == PARTONS_PER_TOP)
    return contained.reshape(-1, 2).any(axis=1)
