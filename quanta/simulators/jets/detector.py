"""A Delphes-like fast detector: tracks, ECAL/HCAL towers and particle flow, vectorised in NumPy.

Acts on the visible final-state particles of a batch of events (flat columns
plus ``counts``) and returns the e-flow objects of every event in the same
layout, ready for clustering. Parametrised after the Delphes 3 cards
``delphes_card_ATLAS.tcl`` and ``delphes_card_CMS.tcl`` (J. de Favereau et al.,
"DELPHES 3", JHEP 02 (2014) 057, arXiv:1307.6346); Delphes itself is not run.

Steps (all particles of all events at once, no Python loop over particles):

1. Propagation in the solenoid (card ``ParticlePropagator``): a charged
   particle reaches the calorimeter at radius ``R`` only if its helix diameter
   exceeds ``R``, i.e. ``pT > 0.3 * Bz * R / 2`` (GeV, T, m). ATLAS: Bz = 2.0 T,
   R = 1.15 m (pT > 0.345 GeV); CMS: Bz = 3.8 T, R = 1.29 m (pT > 0.735 GeV).
   Softer charged particles curl away and leave nothing.
2. Tracking efficiency (``ChargedHadronTrackingEfficiency``, both cards):
   0 for pT <= 0.1 GeV; |eta| <= 1.5: 0.70 for pT in (0.1, 1], 0.95 above;
   1.5 < |eta| <= 2.5: 0.60 and 0.85; 0 beyond 2.5.
3. Track momentum smearing (``ChargedHadronMomentumSmearing`` of the CMS card,
   after arXiv:1405.6569): Gaussian relative pT resolution, direction kept,
   sqrt(a^2 + (b pT)^2) with (a, b) = (0.06, 1.3e-3) for |eta| <= 0.5,
   (0.10, 1.7e-3) to 1.5 and (0.25, 3.1e-3) to 2.5, evaluated as Delphes'
   ``MomentumSmearing`` does (as a fraction of pT). The ATLAS stage uses the
   same formula (the ATLAS card's piecewise table, 2-5 % in pT bins, is not
   transcribed).
4. Calorimeter deposits (``EnergyFraction`` of the ``Calorimeter`` module):
   photons and electrons all in ECAL; other hadrons all in HCAL, except K0S
   and Lambda (30 % ECAL, 70 % HCAL); muons and neutrinos nothing. A charged
   particle that was not tracked still deposits its energy. Towers (equal in
   ECAL and HCAL, as in the cards' single ``Calorimeter``): ATLAS 0.1 in eta x
   10 degrees in phi; CMS 0.087 x 5 degrees for |eta| < 1.74 and 0.087 x 10
   degrees beyond (the card's endcap eta bins are 0.09-0.18 wide; here they
   stay 0.087). The calorimeters cover |eta| < 2.5, the particle-level
   acceptance, so that only detector effects differ between the levels.
5. Tower energy resolution sigma(E) = sqrt((b E)^2 + a^2 E + c^2) (E in GeV),
   Gaussian, clipped at zero. ATLAS ECAL (|eta| <= 3.2): a = 0.101, b = 0.0017;
   HCAL: a = 0.5205, b = 0.0302, c = 1.59 (|eta| <= 1.7), a = 0.706, b = 0.05
   (1.7 < |eta| <= 3.2). CMS ECAL (|eta| <= 3): a = 0.07, b = 0.007, c = 0.35;
   HCAL: a = 1.50, b = 0.050.
6. Particle flow (the ``Calorimeter`` module's e-flow outputs, merged as by
   ``EFlowMerger``; the public top-tagging sample's constituents are Delphes
   e-flow objects): every track is an e-flow track; in each tower the smeared
   ECAL energy minus the true ECAL energy of the tracked particles is an e-flow
   photon, and the smeared HCAL energy minus that of the tracked hadrons is an
   e-flow neutral hadron, each kept above the cards' ``EnergyMin`` (ECAL
   0.5 GeV, HCAL 1.0 GeV) and ``EnergySignificanceMin`` (1 sigma). Tower
   objects are massless and sit at the tower centre (Delphes'
   ``SmearTowerCenter false``), so the granularity shows in jet images.

Card values: ``cards/delphes_card_CMS_NoFastJet.tcl`` (the CMS card's detector part)
and ``cards/delphes_card_ATLAS.tcl`` of the Delphes repository (github.com/delphes/delphes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.simulators.jets.clustering import (
    NEUTRINOS,
    PARTICLE_ETA_MAX,
    EventRecord,
    pseudorapidity,
)

DETECTORS = ("none", "delphes_atlas", "delphes_cms")
PHOTON, NEUTRAL_HADRON = 22, 130  # pdg ids given to e-flow tower objects
# stable charged species (|pdg id|): e, mu, pi, K, p, Sigma+, Sigma-, Xi-, Omega-
CHARGED = (11, 13, 211, 321, 2212, 3222, 3112, 3312, 3334)
ELECTROMAGNETIC = (11, 22)
SHARED = (310, 3122)  # K0S, Lambda: 30 % ECAL, 70 % HCAL
INVISIBLE = (12, 13, 14, 16)  # muons and neutrinos leave no calorimeter energy
ECAL_MIN, HCAL_MIN, SIGNIFICANCE_MIN = 0.5, 1.0, 1.0  # the cards' EnergyMin (GeV), significance
TRACK_ETA_EDGES = np.array([0.5, 1.5])
TRACK_RESOLUTION = np.array([[0.06, 1.3e-3], [0.10, 1.7e-3], [0.25, 3.1e-3]])  # (a, b) per |eta| bin


@dataclass(frozen=True)
class Card:
    """The parameters of one detector (see the module docstring for their sources)."""

    field: float  # Bz in T
    radius: float  # radius of the tracker volume in m
    eta_bin: float  # tower size in eta
    phi_bins: int  # towers around phi for |eta| < fine_eta
    fine_eta: float
    outer_phi_bins: int  # towers around phi beyond fine_eta
    ecal: tuple[float, float, float]  # stochastic a, constant b, noise c
    hcal_barrel: tuple[float, float, float]
    hcal_endcap: tuple[float, float, float]
    hcal_barrel_eta: float


CARDS = {
    "delphes_atlas": Card(2.0, 1.15, 0.1, 36, 2.5, 36, (0.101, 0.0017, 0.0), (0.5205, 0.0302, 1.59),
                          (0.706, 0.05, 0.0), 1.7),
    "delphes_cms": Card(3.8, 1.29, 0.087, 72, 1.74, 36, (0.07, 0.007, 0.35), (1.50, 0.050, 0.0),
                        (1.50, 0.050, 0.0), 3.0),
}


@dataclass
class Particles:
    """Flat particle (or e-flow object) columns of a batch: ``counts[B]`` and ``[M]`` arrays."""

    counts: np.ndarray  # int64[B]
    pdg_id: np.ndarray  # int32[M]
    px: np.ndarray  # float64[M] (GeV)
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray


def tracking_efficiency(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """Probability that a charged particle gives a track (the cards' formula, step 2)."""
    barrel = abs_eta <= 1.5
    soft = pt <= 1.0
    efficiency = np.where(barrel, np.where(soft, 0.70, 0.95), np.where(soft, 0.60, 0.85))
    return np.where((pt > 0.1) & (abs_eta <= 2.5), efficiency, 0.0)


def track_resolution(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """Relative pT resolution of a track (step 3)."""
    a, b = TRACK_RESOLUTION[np.searchsorted(TRACK_ETA_EDGES, abs_eta)].T
    return np.sqrt(a**2 + (b * pt) ** 2)


def calorimeter_resolution(energy: np.ndarray, terms: tuple[float, float, float]) -> np.ndarray:
    """sigma(E) in GeV from (stochastic, constant, noise) terms added in quadrature (step 5)."""
    a, b, c = terms
    return np.sqrt(a**2 * energy + (b * energy) ** 2 + c**2)


def reconstruct(particles: Particles, card: Card, rng: np.random.Generator) -> Particles:
    """The e-flow objects (tracks, photons, neutral hadrons) of each event of ``particles``."""
    n_events = len(particles.counts)
    event = np.repeat(np.arange(n_events), particles.counts)
    pdg = np.abs(particles.pdg_id)
    px, py, pz, energy = particles.px, particles.py, particles.pz, particles.energy
    pt = np.hypot(px, py)
    eta = pseudorapidity(px, py, pz)
    phi = np.arctan2(py, px)
    inside = np.abs(eta) < PARTICLE_ETA_MAX
    charged = np.isin(pdg, CHARGED)
    reaches = inside & (~charged | (pt > 0.3 * card.field * card.radius / 2))
    uniform = rng.random(len(pdg))
    tracked = reaches & charged & (uniform < tracking_efficiency(pt, np.abs(eta)))

    # tracks: smeared pT, direction and mass kept
    t = np.flatnonzero(tracked)
    smear = track_resolution(pt[t], np.abs(eta[t])) * rng.standard_normal(len(t))
    scale = np.maximum(1.0 + smear, 1e-3)
    mass2 = np.maximum(energy[t] ** 2 - px[t] ** 2 - py[t] ** 2 - pz[t] ** 2, 0.0)
    tpx, tpy, tpz = px[t] * scale, py[t] * scale, pz[t] * scale
    tenergy = np.sqrt(tpx**2 + tpy**2 + tpz**2 + mass2)

    # calorimeter towers: one cell index per (event, eta bin, phi bin)
    deposits = reaches & ~np.isin(pdg, INVISIBLE)
    ecal_fraction = np.where(np.isin(pdg, ELECTROMAGNETIC), 1.0, np.where(np.isin(pdg, SHARED), 0.3, 0.0))
    n_eta = int(np.ceil(2 * PARTICLE_ETA_MAX / card.eta_bin))
    eta_centre = (np.arange(n_eta) + 0.5) * card.eta_bin - PARTICLE_ETA_MAX
    phi_bins = np.where(np.abs(eta_centre) < card.fine_eta, card.phi_bins, card.outer_phi_bins)
    i_eta = np.clip(((eta + PARTICLE_ETA_MAX) / card.eta_bin).astype(np.int64), 0, n_eta - 1)
    n_phi = phi_bins[i_eta]
    i_phi = np.minimum(((phi + np.pi) / (2 * np.pi) * n_phi).astype(np.int64), n_phi - 1)
    width = int(phi_bins.max())
    tower = (event * n_eta + i_eta) * width + i_phi
    d = np.flatnonzero(deposits)
    cells, inverse = np.unique(tower[d], return_inverse=True)
    n_cells = len(cells)
    ecal_part = energy[d] * ecal_fraction[d]
    hcal_part = energy[d] - ecal_part
    ecal = np.bincount(inverse, ecal_part, n_cells)
    hcal = np.bincount(inverse, hcal_part, n_cells)
    ecal_tracked = np.bincount(inverse, ecal_part * tracked[d], n_cells)
    hcal_tracked = np.bincount(inverse, hcal_part * tracked[d], n_cells)

    cell_event = cells // (n_eta * width)
    cell_i_eta = (cells // width) % n_eta
    cell_eta = eta_centre[cell_i_eta]
    cell_phi = (cells % width + 0.5) * (2 * np.pi / phi_bins[cell_i_eta]) - np.pi
    barrel = np.abs(cell_eta) <= card.hcal_barrel_eta
    ecal_sigma = calorimeter_resolution(ecal, card.ecal)
    hcal_sigma = np.where(barrel, calorimeter_resolution(hcal, card.hcal_barrel),
                          calorimeter_resolution(hcal, card.hcal_endcap))
    ecal_measured = np.where(ecal > 0, np.maximum(ecal + ecal_sigma * rng.standard_normal(n_cells), 0), 0)
    hcal_measured = np.where(hcal > 0, np.maximum(hcal + hcal_sigma * rng.standard_normal(n_cells), 0), 0)
    photon_energy = ecal_measured - ecal_tracked
    neutral_energy = hcal_measured - hcal_tracked
    photon = (photon_energy > ECAL_MIN) & (photon_energy > SIGNIFICANCE_MIN * ecal_sigma)
    neutral = (neutral_energy > HCAL_MIN) & (neutral_energy > SIGNIFICANCE_MIN * hcal_sigma)

    def towers(keep: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
        e = e[keep]
        tpt = e / np.cosh(cell_eta[keep])
        return (cell_event[keep], tpt * np.cos(cell_phi[keep]), tpt * np.sin(cell_phi[keep]),
                tpt * np.sinh(cell_eta[keep]), e)

    pieces = [(event[t], tpx, tpy, tpz, tenergy), towers(photon, photon_energy),
              towers(neutral, neutral_energy)]
    ids = [particles.pdg_id[t], np.full(int(photon.sum()), PHOTON),
           np.full(int(neutral.sum()), NEUTRAL_HADRON)]
    owner = np.concatenate([p[0] for p in pieces])
    order = np.argsort(owner, kind="stable")
    columns = [np.concatenate([p[k] for p in pieces])[order] for k in range(1, 5)]
    return Particles(np.bincount(owner, minlength=n_events).astype(np.int64),
                     np.concatenate(ids).astype(np.int32)[order], *columns)


def detector_record(record: EventRecord, detector: str, rng: np.random.Generator) -> EventRecord:
    """The e-flow objects of every event of ``record`` as an event record, ready for clustering.

    The visible final state (status > 0, no neutrinos) goes through
    :func:`reconstruct` with the card ``detector``; each object has status 1
    and no mother (its pdg id: the track's particle, 22 or 130 for towers).
    """
    final = (record.status > 0) & ~np.isin(np.abs(record.pdg_id), NEUTRINOS)
    counts = np.bincount(record.event_index[final], minlength=len(record.counts)).astype(np.int64)
    particles = Particles(counts, record.pdg_id[final], record.px[final], record.py[final],
                          record.pz[final], record.energy[final])
    objects = reconstruct(particles, CARDS[detector], rng)
    ones = np.ones(len(objects.pdg_id), np.int32)
    return EventRecord(objects.counts, objects.pdg_id, ones, -ones, objects.px, objects.py,
                       objects.pz, objects.energy)
