"""Tests of the Delphes-like detector stage of the jets source: physics, seeding, cache key.

The physics checks run Pythia once per class (a few hundred events) and cluster
the same events at particle level and after each detector card, so jets can be
compared event by event.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.simulators.jets import generate, jets
from quanta.simulators.jets.clustering import (
    PARTICLE_ETA_MAX,
    delta_phi,
    event_record,
    leading_jets,
)
from quanta.simulators.jets.detector import (
    CARDS,
    NEUTRAL_HADRON,
    PHOTON,
    detector_record,
)

pytestmark = pytest.mark.usefixtures("one_thread")
jets_module = importlib.import_module("quanta.simulators.jets")

EVENTS = 400
DETECTORS = ("delphes_atlas", "delphes_cms")


def pythia_events(label: int, seed: int):
    """One batch of EVENTS Pythia events of class ``label`` with the source's settings."""
    import pythia8mc

    chunk = generate.Chunk(label, 0, 1, seed, 550.0, 650.0)
    pythia = pythia8mc.Pythia("", False)
    for line in generate.pythia_settings(chunk):
        pythia.readString(line)
    assert pythia.init()
    return event_record(pythia.nextBatch(EVENTS, "skip"))


@pytest.fixture(scope="module")
def levels():
    """Per class: the event record, particle-level jets, and per card (e-flow record, jets)."""
    out = {}
    for label in (0, 1):
        record = pythia_events(label, 4242 + label)
        particle = leading_jets(record, 400.0)
        cards = {}
        for detector in DETECTORS:
            objects = detector_record(record, detector, np.random.default_rng(label))
            cards[detector] = (objects, leading_jets(objects, 400.0))
        out[label] = (record, particle, cards)
    return out


def matched(particle, detector_jets):
    """Indices of the jets of the same events at both levels, particle-level pT in 550-650 GeV."""
    _, i, j = np.intersect1d(particle.event, detector_jets.event, return_indices=True)
    window = (particle.pt[i] >= 550) & (particle.pt[i] < 650) & (np.abs(particle.eta[i]) < 2)
    return i[window], j[window]


@pytest.mark.parametrize("detector", DETECTORS)
def test_jet_pt_response_and_resolution(levels, detector):
    # measured (400 events per class): ATLAS response 1.01-1.03, resolution 4-8 %;
    # CMS 1.03-1.04, 6-10 % (its HCAL stochastic term is 150 %)
    for label in (0, 1):
        _, particle, cards = levels[label]
        i, j = matched(particle, cards[detector][1])
        assert len(i) > 50
        response = cards[detector][1].pt[j] / particle.pt[i]
        assert abs(np.median(response) - 1) < 0.05
        assert 0.01 < np.std(response) < 0.15


@pytest.mark.parametrize("detector", DETECTORS)
def test_top_jet_mass_peak_and_resolution(levels, detector):
    _, particle, cards = levels[1]
    i, j = matched(particle, cards[detector][1])
    mass = cards[detector][1].mass[j]
    assert 155 < np.median(mass) < 185  # the top mass (172.5 GeV in Pythia), smeared
    peak = (mass > 140) & (mass < 205)
    assert peak.mean() > 0.5
    shift = mass - particle.mass[i]
    # measured: the mass of the same jet moves by 16 GeV (ATLAS) / 23 GeV (CMS) rms
    assert abs(np.median(shift)) < 8 and np.std(shift) < 35
    qcd_particle, qcd_cards = levels[0][1], levels[0][2]
    k, m = matched(qcd_particle, qcd_cards[detector][1])
    assert np.median(qcd_cards[detector][1].mass[m]) < 110  # QCD jets stay light


@pytest.mark.parametrize("detector", DETECTORS)
def test_charged_fraction_of_constituents(levels, detector):
    """Tracks are about half of the e-flow objects in a jet (the rest: photon and hadron towers)."""
    for label in (0, 1):
        _, particle, cards = levels[label]
        objects, jets_at_detector = cards[detector]
        event = objects.event_index
        slot = np.full(len(objects.counts), -1)
        slot[jets_at_detector.event] = np.arange(len(jets_at_detector.event))
        has = slot[event] >= 0
        pt = np.hypot(objects.px, objects.py)
        eta = np.arcsinh(objects.pz / pt)
        phi = np.arctan2(objects.py, objects.px)
        jet = slot[event[has]]
        inside = np.hypot(eta[has] - jets_at_detector.eta[jet],
                          delta_phi(phi[has], jets_at_detector.phi[jet])) < 0.8
        ids = objects.pdg_id[has][inside]
        charged = np.mean((ids != PHOTON) & (ids != NEUTRAL_HADRON))
        # measured 0.45-0.55 (particle level: ~0.6 of particles are charged, but photon pairs
        # from pi0 share towers and soft tracks curl away)
        assert 0.35 < charged < 0.7


@pytest.mark.parametrize("detector", DETECTORS)
def test_tower_granularity_shows_in_constituents(levels, detector):
    card = CARDS[detector]
    _, particle, cards = levels[1]
    detector_jets = cards[detector][1]

    def on_grid(constituents):
        position = (constituents[:, 1] + PARTICLE_ETA_MAX) / card.eta_bin - 0.5
        return np.abs(position - np.round(position)) < 1e-6

    at_detector = on_grid(detector_jets.constituents).mean()
    assert at_detector > 0.25  # photon and neutral-hadron towers sit at tower centres
    assert on_grid(particle.constituents).mean() < 0.01
    fewer = detector_jets.multiplicity.mean() < particle.multiplicity.mean()
    assert fewer  # photons merge into towers, soft tracks are lost


def test_low_pt_tracks_curl_away(levels):
    record = levels[0][0]
    for detector in DETECTORS:
        objects = levels[0][2][detector][0]
        tracks = (objects.pdg_id != PHOTON) & (objects.pdg_id != NEUTRAL_HADRON)
        cut = 0.3 * CARDS[detector].field * CARDS[detector].radius / 2
        # (a track's pT is smeared after the cut: a few fall below it)
        assert np.mean(np.hypot(objects.px, objects.py)[tracks] < 0.7 * cut) < 0.01
        particles = (record.status > 0) & np.isin(np.abs(record.pdg_id), (211, 321, 2212))
        soft = np.hypot(record.px, record.py)[particles] < cut
        assert soft.mean() > 0.1  # there were soft charged particles to lose
    assert len(record.counts) == len(objects.counts)


def test_detector_is_seeded_and_reproducible(levels):
    record = levels[1][0]
    first = detector_record(record, "delphes_cms", np.random.default_rng(5))
    again = detector_record(record, "delphes_cms", np.random.default_rng(5))
    other = detector_record(record, "delphes_cms", np.random.default_rng(6))
    assert np.array_equal(first.px, again.px) and np.array_equal(first.counts, again.counts)
    assert not np.array_equal(first.energy, other.energy) or len(first.energy) != len(other.energy)


def test_cache_key_of_particle_level_is_unchanged(monkeypatch):
    keys = []

    class Recorded(Exception):
        pass

    def record_key(name, physics, build):
        keys.append(dict(physics))
        raise Recorded

    monkeypatch.setattr(jets_module, "cached", record_key)
    for detector in ("none", "delphes_atlas"):
        with pytest.raises(Recorded):
            jets(size=10, seed=3, progress=False, detector=detector)
    assert keys[0] == {"version": generate.GENERATOR_VERSION, "seed": 3, "size": 10,
                       "pt_min": 550.0, "pt_max": 650.0}
    assert keys[1] == {**keys[0], "detector": "delphes_atlas"}


def test_detector_level_through_the_api(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "CHUNK_JETS", 3)
    runs = []
    for name in ("a", "b"):
        monkeypatch.setenv("QUANTA_CACHE", str(tmp_path / name))
        runs.append(jets(view="constituents", size=6, seed=2, workers=1, progress=False,
                         detector="delphes_atlas"))
    assert np.array_equal(runs[0].x, runs[1].x) and np.array_equal(runs[0].y, runs[1].y)
    assert runs[0].info["detector"] == "delphes_atlas"
    assert np.isfinite(runs[0].x).all()


def test_unknown_detector_is_a_user_error():
    with pytest.raises(UserError, match="detector"):
        jets(size=10, detector="delphes_lhcb", progress=False)


def w_candidate_mass(jets_found):
    """Smallest pair mass of the three exclusive-kt subjets of each jet (the W in a top jet)."""
    import awkward as ak
    import fastjet

    pt, eta, phi, energy = jets_found.constituents.T
    events = ak.unflatten(ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi),
                                  "pz": pt * np.sinh(eta), "E": energy}), jets_found.multiplicity)
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0))
    subjets = sequence.exclusive_jets(n_jets=3)
    p = np.stack([ak.to_numpy(subjets[k]) for k in ("px", "py", "pz", "E")], axis=-1)
    pairs = [p[:, a] + p[:, b] for a, b in ((0, 1), (0, 2), (1, 2))]
    masses = [np.sqrt(np.maximum(s[:, 3] ** 2 - (s[:, :3] ** 2).sum(axis=1), 0)) for s in pairs]
    return np.min(masses, axis=0)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("detector", DETECTORS)
def test_w_mass_peak_in_top_jets(levels, detector):
    # measured: median 68-70 GeV (particle level 73), 56-61 % of jets in 60-100 GeV
    _, particle, cards = levels[1]
    i, j = matched(particle, cards[detector][1])
    chosen = np.zeros(len(cards[detector][1].event), bool)
    chosen[j] = True
    mass = w_candidate_mass(cards[detector][1].select(chosen))
    assert 55 < np.median(mass) < 90
    assert np.mean((mass > 60) & (mass < 100)) > 0.4
    counts, edges = np.histogram(mass, bins=np.arange(0, 160, 20))
    assert 60 <= edges[np.argmax(counts)] <= 80  # the most populated 20 GeV bin holds m_W


@pytest.mark.slow
def test_detector_level_features_separate_top_from_qcd(tmp_path, monkeypatch):
    """600 CMS-detector jets through the API: the top jet mass peak survives the detector (~12 s)."""
    monkeypatch.setenv("QUANTA_CACHE", str(tmp_path))
    data = jets(size=600, seed=9, workers=1, progress=False, detector="delphes_cms")
    mass = data.x[:, data.feature_names.index("jet_mass")]
    top, qcd = mass[data.y == 1], mass[data.y == 0]
    assert 155 < np.median(top) < 185 and np.median(qcd) < 110
    assert np.mean((top > 140) & (top < 205)) > 0.5
    pt = data.x[:, data.feature_names.index("jet_pt")]
    assert ((pt >= 550) & (pt < 650)).all()
