"""Tests of the jets source: shapes, determinism, caching, physics sanity, errors.

One small generation (a few hundred jets) is shared by the whole file through a
session cache directory; the determinism test makes two more, smaller ones.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from quanta.data import load
from quanta.errors import UserError
from quanta.simulators.jets import generate, jets
from quanta.simulators.jets.clustering import EventRecord, LeadingJets
from quanta.simulators.jets.matching import top_contained
from quanta.simulators.parallel import chunk_seed
from quanta.simulators.progress import GenerationProgress

SIZE = 400
SEED = 7
PT_MIN, PT_MAX = 550.0, 650.0


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache directory holding one generation of SIZE jets, made with 2 chunks per class."""
    directory = tmp_path_factory.mktemp("jets-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTA_CACHE", str(directory))
        patch.setattr(generate, "CHUNK_JETS", 100)
        jets(size=SIZE, seed=SEED, workers=2, progress=False)
        yield directory


@pytest.fixture
def use_cache(cache, monkeypatch):
    monkeypatch.setenv("QUANTA_CACHE", str(cache))
    return cache


def load_view(view, **params):
    return jets(view=view, size=SIZE, seed=SEED, progress=False, **params)


def test_features_view(use_cache):
    data = load_view("features")
    assert data.x.shape == (SIZE, len(data.feature_names)) and data.x.dtype == np.float32
    assert {"jet_mass", "tau32", "tau21", "d2"} <= set(data.feature_names)
    assert data.y.dtype == np.int64 and data.classes == ["qcd", "top"]
    assert np.isfinite(data.x).all()
    assert data.info["size"] == SIZE and data.info["seed"] == SEED and data.info["view"] == "features"


def test_constituents_view(use_cache):
    data = load_view("constituents", n_constituents=30)
    assert data.x.shape == (SIZE, 30, 7) and data.x.dtype == np.float32
    assert data["mask"].shape == (SIZE, 30) and data["mask"].dtype == np.bool_
    assert not data.x[~data["mask"]].any(), "padding must be zeros"
    # the mask is a prefix (constituents are pT-ordered) and log pT decreases along it
    mask = data["mask"]
    assert (np.diff(mask.astype(int), axis=1) <= 0).all()
    assert (np.diff(data.x[..., 2], axis=1)[mask[:, 1:]] <= 1e-6).all()
    # anti-kt measures distance in rapidity, the view in pseudorapidity: only soft massive
    # particles (|y - eta| large) appear outside R = 0.8
    assert (data.x[..., 6][mask] > 0.9).mean() < 0.01
    wide = load_view("constituents", n_constituents=250)
    assert wide.x.shape == (SIZE, 250, 7) and not wide["mask"][:, 200:].any()


def test_image_view(use_cache):
    data = load_view("image", image_pixels=16)
    assert data.x.shape == (SIZE, 1, 16, 16) and data.x.dtype == np.float32
    assert (data.x >= 0).all()
    np.testing.assert_allclose(data.x.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    # after the flips the upper and right halves carry at least half the intensity
    upper, right = data.x[:, 0, 8:, :].sum(axis=(1, 2)), data.x[:, 0, :, 8:].sum(axis=(1, 2))
    assert (upper >= 0.5 - 1e-3).mean() > 0.9 and (right >= 0.5 - 1e-3).mean() > 0.9


def test_labels_balanced_and_shuffled(use_cache):
    y = load_view("features").y
    assert (y == 1).sum() == SIZE // 2 and (y == 0).sum() == SIZE - SIZE // 2
    assert 0 < y[: SIZE // 2].sum() < SIZE // 2, "rows must be shuffled"


def test_jets_in_window(use_cache):
    data = load_view("features")
    pt, eta = data.x[:, data.feature_names.index("jet_pt")], data.x[:, data.feature_names.index("jet_eta")]
    assert ((pt >= PT_MIN) & (pt < PT_MAX)).all()
    assert (np.abs(eta) < 2.0).all()


def test_physics_sanity(use_cache):
    data = load_view("features")
    names, x, top = data.feature_names, data.x, data.y == 1
    mass, tau32 = x[:, names.index("jet_mass")], x[:, names.index("tau32")]
    assert 150 < np.median(mass[top]) < 195
    assert ((mass[top] > 140) & (mass[top] < 210)).mean() > 0.5
    assert mass[top].mean() > mass[~top].mean() + 50
    assert tau32[top].mean() < tau32[~top].mean() - 0.15


def test_cache_hit_does_not_simulate(use_cache, monkeypatch):
    first = load_view("constituents")

    def fail(*args, **kwargs):
        raise AssertionError("a cached data set was simulated again")

    monkeypatch.setattr(generate, "simulate", fail)
    start = time.perf_counter()
    again = load_view("constituents")
    assert time.perf_counter() - start < 2.0
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)


def test_deterministic_across_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "CHUNK_JETS", 30)
    results = []
    for workers in (1, 2):
        monkeypatch.setenv("QUANTA_CACHE", str(tmp_path / f"workers{workers}"))
        results.append(jets(view="constituents", size=120, seed=3, workers=workers, progress=False))
    np.testing.assert_array_equal(results[0].x, results[1].x)
    np.testing.assert_array_equal(results[0].y, results[1].y)
    np.testing.assert_array_equal(results[0]["mask"], results[1]["mask"])


def test_seeds_and_chunks():
    chunks = generate.plan_chunks(1001, seed=5, pt_min=PT_MIN, pt_max=PT_MAX)
    assert sum(c.n_jets for c in chunks if c.label == 1) == 500
    assert sum(c.n_jets for c in chunks if c.label == 0) == 501
    assert len({c.seed for c in chunks}) == len(chunks)
    assert chunks[0].seed == chunk_seed(5, chunks[0].label, 0) != chunk_seed(6, chunks[0].label, 0)


@pytest.mark.parametrize(
    ("param", "value"),
    [("view", "pixels"), ("size", 1), ("pt_min", 0.0), ("pt_min", 700.0), ("n_constituents", 0),
     ("image_pixels", 3), ("workers", -1), ("size", 10.5), ("seed", "one")],
)
def test_bad_parameters(param, value):
    name = "pt_max" if (param, value) == ("pt_min", 700.0) else param  # pt_min above pt_max blames pt_max
    with pytest.raises(UserError, match=name) as error:
        jets(**{param: value})
    assert str(value) in str(error.value) and "\n" not in str(error.value)


def test_registered_source_validates(use_cache):
    data = load("jets", view="features", size=SIZE, seed=SEED, progress=False)
    assert data.name == "jets" and len(data) == SIZE
    with pytest.raises(UserError, match="view"):
        load("jets", view="graph")


def test_top_matching_on_a_hand_made_event():
    # 0 system, 1 t, 2 t-bar, 3 b (from t), 4 W+ (from t), 5 u, 6 d-bar (from W+),
    # 7 b-bar, 8 W-, 9 d, 10 u-bar; the top side points along +x at eta 0, the other along -x
    ids = [90, 6, -6, 5, 24, 2, -1, -5, -24, 1, -2]
    mothers = [0, 0, 0, 1, 1, 4, 4, 2, 2, 8, 8]
    phis = [0, 0, np.pi, 0.3, -0.1, -0.2, 0.1, np.pi - 0.1, np.pi, np.pi + 0.2, np.pi - 0.3]
    pt = np.array([0] + [100.0] * 10)
    record = EventRecord(
        counts=np.array([11]), pdg_id=np.array(ids, np.int32), status=np.full(11, -22, np.int32),
        mother1=np.array(mothers, np.int32), px=pt * np.cos(phis), py=pt * np.sin(phis),
        pz=np.zeros(11), energy=np.full(11, 200.0),
    )

    def jet_at(phi):
        one = np.array([0.0])
        return LeadingJets(np.array([0]), one + 600, one, one + phi, one + 170, one + 700,
                           np.array([0]), np.array([0]), np.zeros((0, 4)))

    assert top_contained(record, jet_at(0.0)).tolist() == [True]
    assert top_contained(record, jet_at(np.pi)).tolist() == [True]
    assert top_contained(record, jet_at(0.65)).tolist() == [False]  # the u quark is 0.85 away
    assert top_contained(record, jet_at(np.pi / 2)).tolist() == [False]


def test_progress_display_plain_and_silent():
    stream = io.StringIO()
    with GenerationProgress(100, "jets", stream=stream) as display:
        for _ in range(10):
            display.advance(10)
    lines = stream.getvalue().splitlines()
    assert 2 <= len(lines) <= 5 and "100/100" in lines[-1]
    silent = io.StringIO()
    with GenerationProgress(100, "jets", enabled=False, stream=silent) as display:
        display.advance(100)
    assert silent.getvalue() == ""
