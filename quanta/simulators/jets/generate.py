"""Pythia 8 generation of top and QCD jets, in seeded chunks run by parallel workers.

What is simulated (one Pythia instance per chunk, created inside the worker):

* pp collisions at sqrt(s) = 14 TeV, Pythia's default (Monash 2013) tune.
* Signal: gg -> ttbar and qqbar -> ttbar with both W bosons forced to decay to
  quarks (``24:onMode = off``, ``24:onIfAny = 1 2 3 4 5``), so each top decays
  t -> b q q'. Background: all 2 -> 2 QCD processes (``HardQCD:all``).
* ISR, FSR and hadronisation on; multiple parton interactions off and no
  pile-up, as in the public top-tagging reference sample (arXiv:1902.09914) -
  this also makes generation about three times faster. Particles with
  c*tau > 10 mm are stable (the usual LHC definition of a final-state particle).
* Optionally (``Chunk.detector``) the final state of each batch passes a
  Delphes-like detector (:mod:`quanta.simulators.jets.detector`, its generator
  seeded from the chunk's seed) and its e-flow objects are clustered instead.
* The hard-process pT window (``PhaseSpace:pTHatMin/Max``) follows the requested
  jet pT window with a margin (see :func:`pthat_window`), so few events are
  wasted on jets outside it.

Each class is cut into chunks of ``CHUNK_JETS`` kept jets; chunk ``i`` of class
``c`` uses ``Random:seed`` derived from ``(seed, c, i)`` alone, so a data set is
identical whatever the number of workers, and the jets of a smaller ``size``
are among those of a larger one with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.errors import UserError
from quanta.simulators.jets.clustering import LeadingJets, event_record, leading_jets, segment_rows
from quanta.simulators.jets.detector import detector_record
from quanta.simulators.jets.matching import top_contained
from quanta.simulators.parallel import chunk_seed, chunk_sizes, run_chunks

GENERATOR_VERSION = "pythia8.317-mpi_off-v1"  # change when settings change: it keys the cache
CHUNK_JETS = 250  # kept jets per chunk: ~2-5 s of work, small enough to balance workers
MAX_CONSTITUENTS = 200  # stored constituents per jet (highest pT first); 600 GeV jets have ~30-120
JET_ETA_MAX = 2.0
LABELS = {"qcd": 0, "top": 1}
PROCESSES = {
    "qcd": ["HardQCD:all = on"],
    "top": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"],
}
MIN_EFFICIENCY = 0.002  # fewer kept jets per event than this after MIN_EVENTS: the window is hopeless
MIN_EVENTS = 5000
DETECTOR_STREAM = 0xDE7EC7  # second seed word of a chunk's detector generator (Pythia has the first)


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``n_jets`` kept jets of class ``label`` from Pythia seed ``seed``."""

    label: int
    index: int
    n_jets: int
    seed: int
    pt_min: float
    pt_max: float
    detector: str = "none"  # a name of detector.DETECTORS; its randomness is seeded from ``seed``


def pthat_window(pt_min: float, pt_max: float) -> tuple[float, float]:
    """Hard-process pT range generated for jets with ``pt_min <= pT < pt_max``.

    A leading jet can be softer than the hard process (radiation out of the
    cone) or harder (a recoil against hard ISR, or an ISR jet that leads). The
    cross section falls steeply with pT-hat, so the second case is not rare:
    for 550-650 GeV jets, generating from pT-hat = 250 GeV showed ~20 % of the
    QCD and ~17 % of the matched top jets coming from pT-hat below 0.75 pt_min
    (and < 1 % from above 1.2 pt_max). Lowering the cut further would roughly
    halve the generation rate for every 10 % it recovers; these jets are
    ordinary jets of the same pT, so the cut trades a small change of the
    sample's composition (fewer ISR-recoil topologies) for speed.
    """
    return 0.75 * pt_min, pt_max + 0.2 * pt_max


def plan_chunks(size: int, seed: int, pt_min: float, pt_max: float,
                detector: str = "none") -> list[Chunk]:
    """The chunks of a data set: ``size // 2`` top jets and the rest QCD, classes interleaved."""
    per_class = {LABELS["top"]: size // 2, LABELS["qcd"]: size - size // 2}
    plans = {}
    for label, total in per_class.items():
        plans[label] = [Chunk(label, i, n, chunk_seed(seed, label, i), pt_min, pt_max, detector)
                        for i, n in enumerate(chunk_sizes(total, CHUNK_JETS))]
    longest = max(len(p) for p in plans.values())
    return [p[i] for i in range(longest) for p in plans.values() if i < len(p)]


def _class_name(label: int) -> str:
    return next(name for name, value in LABELS.items() if value == label)


def pythia_settings(chunk: Chunk) -> list[str]:
    """The Pythia settings of a chunk (process, seed, pT-hat window, quiet output)."""
    process = _class_name(chunk.label)
    low, high = pthat_window(chunk.pt_min, chunk.pt_max)
    return [
        "Beams:eCM = 14000.",
        *PROCESSES[process],
        f"PhaseSpace:pTHatMin = {low}",
        f"PhaseSpace:pTHatMax = {high}",
        "PartonLevel:MPI = off",
        "ParticleDecays:limitTau0 = on",
        "ParticleDecays:tau0Max = 10.",
        "Random:setSeed = on",
        f"Random:seed = {chunk.seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
    ]


def simulate_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
    """Generate events until ``chunk.n_jets`` leading jets pass the selection; return them packed."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)  # False: no banner
    for line in pythia_settings(chunk):
        pythia.readString(line)
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with {pythia_settings(chunk)}")

    detector_rng = np.random.default_rng((chunk.seed, DETECTOR_STREAM))
    kept: list[LeadingJets] = []
    n_kept, n_events, efficiency = 0, 0, 0.2
    while n_kept < chunk.n_jets:
        wanted = (chunk.n_jets - n_kept) / max(efficiency, 0.01)
        batch = pythia.nextBatch(int(np.clip(1.1 * wanted + 10, 20, 500)), "skip")
        record = event_record(batch)
        if chunk.detector == "none":
            jets = leading_jets(record, chunk.pt_min)
        else:
            jets = leading_jets(detector_record(record, chunk.detector, detector_rng), chunk.pt_min)
        keep = (jets.pt < chunk.pt_max) & (np.abs(jets.eta) < JET_ETA_MAX)
        if chunk.label == LABELS["top"]:
            keep &= top_contained(record, jets)
        kept.append(jets.select(keep))
        n_kept += int(keep.sum())
        n_events += len(record.counts)
        efficiency = max(n_kept, 1) / n_events
        if n_events >= MIN_EVENTS and n_kept / n_events < MIN_EFFICIENCY:
            raise UserError(
                f"jets: only {n_kept} of {n_events} {_class_name(chunk.label)} events gave a selected "
                f"jet with pt in "
                f"[{chunk.pt_min}, {chunk.pt_max}) GeV; choose a window where jets are produced "
                "(top jets need pT above ~300 GeV to fit in R=0.8)"
            )
    return pack(kept, chunk.n_jets, chunk.label)


def pack(pieces: list[LeadingJets], n_jets: int, label: int) -> dict[str, np.ndarray]:
    """The first ``n_jets`` jets of ``pieces`` as fixed-shape arrays (the cached raw content).

    Returns ``constituents`` float32[n, MAX_CONSTITUENTS, 4] (pt, eta, phi, E;
    pT-ordered, zero padded), ``multiplicity`` int32[n] (all constituents, also
    those beyond the stored maximum), ``jet`` float32[n, 5] (pt, eta, phi, mass,
    E) and ``y`` int64[n].
    """
    jet = np.concatenate([np.stack([p.pt, p.eta, p.phi, p.mass, p.energy], axis=1) for p in pieces])
    multiplicity = np.concatenate([p.multiplicity for p in pieces])
    offset = np.cumsum([0] + [len(p.constituents) for p in pieces])[:-1]
    start = np.concatenate([p.start + o for p, o in zip(pieces, offset, strict=True)])
    members = np.concatenate([p.constituents for p in pieces])

    stored = np.minimum(multiplicity[:n_jets], MAX_CONSTITUENTS)
    rows = segment_rows(start[:n_jets], stored)
    slots = segment_rows(np.arange(n_jets) * MAX_CONSTITUENTS, stored)
    constituents = np.zeros((n_jets * MAX_CONSTITUENTS, 4), np.float32)
    constituents[slots] = members[rows]
    return {
        "constituents": constituents.reshape(n_jets, MAX_CONSTITUENTS, 4),
        "multiplicity": multiplicity[:n_jets].astype(np.int32),
        "jet": jet[:n_jets].astype(np.float32),
        "y": np.full(n_jets, label, np.int64),
    }


def simulate(size: int, seed: int, pt_min: float, pt_max: float, workers: int = 0,
             progress: bool = True, detector: str = "none") -> dict[str, np.ndarray]:
    """All jets of a data set, rows shuffled with ``seed``; see :func:`pack` for the arrays."""
    chunks = plan_chunks(size, seed, pt_min, pt_max, detector)
    results = run_chunks(simulate_chunk, chunks, size, "simulating jets", unit="jets", workers=workers,
                         progress=progress)
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].label, chunks[i].index))
    arrays = {key: np.concatenate([results[i][key] for i in order]) for key in results[0]}
    shuffle = np.random.default_rng(seed).permutation(size)
    return {key: value[shuffle] for key, value in arrays.items()}
