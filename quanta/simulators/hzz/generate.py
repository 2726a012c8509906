"""Pythia 8 generation of H -> ZZ* -> 4l and q qbar -> ZZ -> 4l, in seeded chunks run by workers.

What is simulated (one Pythia instance per chunk, created inside the worker):

* pp collisions at sqrt(s) = 13 or 14 TeV, Pythia's default (Monash 2013) tune.
* Signal: gluon fusion gg -> H (``HiggsSM:gg2H``), m_H = 125 GeV, the Higgs
  forced to ZZ (``25:onMode = off``, ``25:onIfMatch = 23 23``); one Z is
  on-shell, the other (Z*) off-shell, down to Pythia's ``23:mMin`` = 10 GeV.
* Background: the irreducible q qbar -> ZZ continuum as Pythia's
  ``WeakDoubleBoson:ffbar2gmZgmZ``: f fbar -> gamma*/Z gamma*/Z with the full
  gamma*/Z interference of each boson. The mass of the boson pair (m-hat,
  close to m_4l) is generated in :func:`mhat_window` around the requested m_4l
  window, so few events are wasted. The singly resonant Z -> 4l and gg -> ZZ
  are not included.
* Every Z and gamma* decays to e+e- or mu+mu- (``23:onMode = off``,
  ``23:onIfAny = 11 13``), so each event has exactly four leptons from the
  hard process.
* Initial-state radiation on (the four-lepton system gets transverse
  momentum), final-state radiation on (leptons radiate photons, which
  :mod:`quanta.simulators.hzz.leptons` adds back). Multiple parton interactions and
  hadronisation are off: only leptons are used, and no hadron can decay to a
  lepton, so generation is several times faster.

Each class is cut into chunks of ``CHUNK_EVENTS`` selected events; chunk ``i``
of class ``c`` draws Pythia's seed and the smearing from ``(seed, c, i)``
alone, so a data set does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.errors import UserError
from quanta.simulators.hzz.leptons import dressed_leptons, measure
from quanta.simulators.hzz.selection import select
from quanta.simulators.parallel import chunk_seed, chunk_sizes, run_chunks

GENERATOR_VERSION = "pythia8.317-leptons-v1"  # change when settings change: it keys the cache
CHUNK_EVENTS = 500  # selected events per chunk: about a second of work
LABELS = {"zz": 0, "higgs": 1}
HIGGS_MASS = 125.0
PROCESSES = {
    "higgs": ["HiggsSM:gg2H = on", f"25:m0 = {HIGGS_MASS}", "25:onMode = off", "25:onIfMatch = 23 23"],
    "zz": ["WeakDoubleBoson:ffbar2gmZgmZ = on"],
}
MIN_EFFICIENCY = 0.01  # fewer selected events per generated event than this: the window is hopeless
MIN_EVENTS = 5000


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``n_events`` selected events of class ``label``."""

    label: int
    index: int
    n_events: int
    seed: int
    sqrt_s: int
    m4l_min: float
    m4l_max: float
    pt_resolution: float


def mhat_window(m4l_min: float, m4l_max: float) -> tuple[float, float]:
    """Generated boson-pair mass range of the background for a measured m_4l window.

    Photon radiation that escapes the dressing cone lowers the measured mass and
    smearing moves it both ways by a few GeV, so the window is widened by 10 %
    plus 5 GeV on each side.
    """
    return max(0.9 * m4l_min - 5.0, 20.0), 1.1 * m4l_max + 5.0


def plan_chunks(size: int, seed: int, sqrt_s: int, m4l_min: float, m4l_max: float,
                pt_resolution: float) -> list[Chunk]:
    """The chunks of a data set: ``size // 2`` Higgs events and the rest ZZ, classes interleaved."""
    per_class = {LABELS["higgs"]: size // 2, LABELS["zz"]: size - size // 2}
    plans = {
        label: [Chunk(label, i, n, chunk_seed(seed, label, i), sqrt_s, m4l_min, m4l_max, pt_resolution)
                for i, n in enumerate(chunk_sizes(total, CHUNK_EVENTS))]
        for label, total in per_class.items()
    }
    longest = max(len(p) for p in plans.values())
    return [p[i] for i in range(longest) for p in plans.values() if i < len(p)]


def _class_name(label: int) -> str:
    return next(name for name, value in LABELS.items() if value == label)


def pythia_settings(chunk: Chunk) -> list[str]:
    """The Pythia settings of a chunk (beams, process, Z decays, speed switches, seed)."""
    settings = [
        f"Beams:eCM = {1000.0 * chunk.sqrt_s}",
        *PROCESSES[_class_name(chunk.label)],
        "23:onMode = off",
        "23:onIfAny = 11 13",
        "PartonLevel:MPI = off",
        "HadronLevel:all = off",
        "Random:setSeed = on",
        f"Random:seed = {chunk.seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
    ]
    if chunk.label == LABELS["zz"]:
        low, high = mhat_window(chunk.m4l_min, chunk.m4l_max)
        settings += [f"PhaseSpace:mHatMin = {low}", f"PhaseSpace:mHatMax = {high}"]
    return settings


def simulate_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
    """Generate events until ``chunk.n_events`` pass the selection; return their leptons.

    Returns ``leptons`` float32[n, 4, 5] (pT, eta, phi, charge, flavour; see
    :func:`quanta.simulators.hzz.selection.select`) and ``y`` int64[n].
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)  # False: no banner
    for line in pythia_settings(chunk):
        pythia.readString(line)
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with {pythia_settings(chunk)}")
    smearing = np.random.default_rng(chunk.seed)

    kept: list[np.ndarray] = []
    n_kept, n_events, efficiency = 0, 0, 0.5
    while n_kept < chunk.n_events:
        wanted = (chunk.n_events - n_kept) / max(efficiency, 0.02)
        batch = pythia.nextBatch(int(np.clip(1.1 * wanted + 10, 20, 2000)), "skip")
        true = dressed_leptons(batch)
        measured = measure(true, chunk.pt_resolution, smearing)
        leptons = select(measured, chunk.m4l_min, chunk.m4l_max)
        kept.append(leptons)
        n_kept += len(leptons)
        n_events += len(batch)
        efficiency = max(n_kept, 1) / n_events
        if n_events >= MIN_EVENTS and n_kept / n_events < MIN_EFFICIENCY:
            raise UserError(
                f"hzz: only {n_kept} of {n_events} {_class_name(chunk.label)} events passed the "
                f"selection with m4l in [{chunk.m4l_min}, {chunk.m4l_max}] GeV; widen the window "
                f"(the Higgs needs m4l_min < {HIGGS_MASS} < m4l_max)"
            )
    leptons = np.concatenate(kept)[: chunk.n_events]
    return {"leptons": leptons.astype(np.float32), "y": np.full(len(leptons), chunk.label, np.int64)}


def simulate(size: int, seed: int, sqrt_s: int, m4l_min: float, m4l_max: float, pt_resolution: float,
             workers: int = 0, progress: bool = True) -> dict[str, np.ndarray]:
    """All events of a data set, rows shuffled with ``seed``; see :func:`simulate_chunk`."""
    chunks = plan_chunks(size, seed, sqrt_s, m4l_min, m4l_max, pt_resolution)
    results = run_chunks(simulate_chunk, chunks, size, "simulating H -> ZZ* -> 4l and ZZ -> 4l",
                         unit="events", workers=workers, progress=progress)
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].label, chunks[i].index))
    arrays = {key: np.concatenate([results[i][key] for i in order]) for key in results[0]}
    shuffle = np.random.default_rng(seed).permutation(size)
    return {key: value[shuffle] for key, value in arrays.items()}
