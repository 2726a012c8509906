"""From a batch of Pythia events to the leading anti-kt jet of each event and its constituents.

The event record arrives as an Awkward array (``Pythia.nextBatch``); it is
flattened once into NumPy columns so that every step below is vectorised over
all particles of all events, and clustering runs over the whole batch inside
FastJet's C++ multi-event interface (``fastjet.ClusterSequence`` on an Awkward
array). No Python code runs per particle or per event.

Shapes: a batch of ``B`` events with ``M`` particles in total is held as flat
columns ``[M]`` plus ``counts[B]`` (particles per event).
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

JET_RADIUS = 0.8  # anti-kt R of the reference top-tagging sample (arXiv:1902.09914)
PARTICLE_ETA_MAX = 2.5  # tracker/calorimeter acceptance applied to the particles before clustering
NEUTRINOS = (12, 14, 16)


_banner_shown = False


def hide_fastjet_banner() -> None:
    """Let FastJet print its once-per-process banner into /dev/null instead of the user's output.

    FastJet writes the banner from C++ on its first clustering; clustering one
    particle with file descriptor 1 pointed at /dev/null uses up that first time.
    """
    global _banner_shown
    if _banner_shown:
        return
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        one = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]])
        fastjet.ClusterSequence(one, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_RADIUS))
        ctypes.CDLL(None).fflush(None)  # C stdio may still hold the text; flush it to /dev/null
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    _banner_shown = True


@dataclass
class EventRecord:
    """The flattened Pythia event record of a batch (one entry per particle, all events)."""

    counts: np.ndarray  # int64[B], particles per event
    pdg_id: np.ndarray  # int32[M]
    status: np.ndarray  # int32[M]
    mother1: np.ndarray  # int32[M], index of the first mother inside its event
    px: np.ndarray  # float64[M] (GeV)
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        """``int64[B]``: flat index of each event's first particle."""
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    @property
    def event_index(self) -> np.ndarray:
        """``int64[M]``: the event each particle belongs to."""
        return np.repeat(np.arange(len(self.counts)), self.counts)


def event_record(batch: ak.Array) -> EventRecord:
    """Flatten the ``prt`` record of ``Pythia.nextBatch`` output into NumPy columns."""
    particles = batch["prt"]

    def column(values: ak.Array) -> np.ndarray:
        return ak.to_numpy(ak.flatten(values))

    momentum = particles["p"]
    return EventRecord(
        counts=ak.to_numpy(ak.num(particles)).astype(np.int64),
        pdg_id=column(particles["id"]),
        status=column(particles["status"]),
        mother1=column(particles["mother1"]),
        px=column(momentum["px"]),
        py=column(momentum["py"]),
        pz=column(momentum["pz"]),
        energy=column(momentum["e"]),
    )


def pseudorapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """eta = asinh(pz / pT), finite for every massive or massless particle with pT > 0."""
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-12))


def segment_rows(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[j], start[j] + count[j])`` over all j, without a Python loop."""
    count = np.asarray(count, dtype=np.int64)
    before = np.cumsum(count) - count  # position of segment j in the output
    return np.arange(count.sum(), dtype=np.int64) + np.repeat(np.asarray(start, np.int64) - before, count)


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Azimuthal difference a - b wrapped into [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


@dataclass
class LeadingJets:
    """The leading jet of each event that has one, and its constituents.

    ``event`` indexes the batch; ``constituents`` holds the particles of all
    these jets back to back (``float64[K, 4]`` as pt, eta, phi, E), jet ``j``
    owning rows ``start[j] : start[j] + multiplicity[j]``, sorted by decreasing pT.
    """

    event: np.ndarray  # int64[J]
    pt: np.ndarray  # float64[J]
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    energy: np.ndarray
    multiplicity: np.ndarray  # int64[J]
    start: np.ndarray  # int64[J]
    constituents: np.ndarray  # float64[K, 4]

    def select(self, keep: np.ndarray) -> LeadingJets:
        """The jets where ``keep`` (bool[J]) is true, constituents re-packed."""
        multiplicity = self.multiplicity[keep]
        rows = segment_rows(self.start[keep], multiplicity)
        start = np.concatenate([[0], np.cumsum(multiplicity)[:-1]]).astype(np.int64)
        return LeadingJets(
            self.event[keep], self.pt[keep], self.eta[keep], self.phi[keep], self.mass[keep],
            self.energy[keep], multiplicity, start, self.constituents[rows],
        )


def leading_jets(record: EventRecord, pt_min: float) -> LeadingJets:
    """Cluster the visible final state of every event with anti-kt R=0.8; keep the leading jet.

    Visible final state: status > 0, not a neutrino, ``|eta| < 2.5``. Only jets
    with ``pT >= pt_min`` are asked of FastJet; an event whose leading jet is
    softer has no entry (it could not pass the selection anyway).
    """
    absolute_id = np.abs(record.pdg_id)
    eta = pseudorapidity(record.px, record.py, record.pz)
    visible = (record.status > 0) & ~np.isin(absolute_id, NEUTRINOS) & (np.abs(eta) < PARTICLE_ETA_MAX)
    n_events = len(record.counts)
    counts = np.bincount(record.event_index[visible], minlength=n_events)
    px, py, pz, energy = (a[visible] for a in (record.px, record.py, record.pz, record.energy))
    particles = ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": energy}), counts)

    hide_fastjet_banner()
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_RADIUS)
    sequence = fastjet.ClusterSequence(particles, definition)
    jets = sequence.inclusive_jets(min_pt=pt_min)  # [B][jets]
    members = sequence.constituent_index(min_pt=pt_min)  # [B][jets][constituents], index within event

    jet_px, jet_py = ak.to_numpy(ak.flatten(jets.px)), ak.to_numpy(ak.flatten(jets.py))
    jet_pz, jet_e = ak.to_numpy(ak.flatten(jets.pz)), ak.to_numpy(ak.flatten(jets.E))
    jets_per_event = ak.to_numpy(ak.num(jets))
    jet_event = np.repeat(np.arange(n_events), jets_per_event)
    jet_pt = np.hypot(jet_px, jet_py)
    # the leading jet of each event: the last one after sorting by (event, pT)
    order = np.lexsort((jet_pt, jet_event))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = jet_event[order][1:] != jet_event[order][:-1]
    lead = order[last]  # flat jet index of each event's leading jet, events in increasing order

    # constituents of the leading jets, as flat indices into the visible particles
    member_counts = ak.to_numpy(ak.flatten(ak.num(members, axis=2)))  # [all jets]
    member_flat = ak.to_numpy(ak.flatten(members, axis=None)).astype(np.int64)
    member_start = np.concatenate([[0], np.cumsum(member_counts)[:-1]])
    multiplicity = member_counts[lead]
    rows = segment_rows(member_start[lead], multiplicity)
    event_offset = np.concatenate([[0], np.cumsum(counts)[:-1]])
    owner = np.repeat(np.arange(len(lead)), multiplicity)
    particle = event_offset[jet_event[lead]][owner] + member_flat[rows]

    c_pt = np.hypot(px[particle], py[particle])
    c_eta = pseudorapidity(px[particle], py[particle], pz[particle])
    c_phi = np.arctan2(py[particle], px[particle])
    # sort constituents by decreasing pT inside each jet
    order = np.lexsort((-c_pt, owner))
    constituents = np.stack([c_pt, c_eta, c_phi, energy[particle]], axis=1)[order]

    pt = jet_pt[lead]
    p2 = pt**2 + jet_pz[lead] ** 2
    mass = np.sqrt(np.maximum(jet_e[lead] ** 2 - p2, 0.0))
    return LeadingJets(
        event=jet_event[lead],
        pt=pt,
        eta=pseudorapidity(jet_px[lead], jet_py[lead], jet_pz[lead]),
        phi=np.arctan2(jet_py[lead], jet_px[lead]),
        mass=mass,
        energy=jet_e[lead],
        multiplicity=multiplicity.astype(np.int64),
        start=np.concatenate([[0], np.cumsum(multiplicity)[:-1]]).astype(np.int64),
        constituents=constituents,
    )
