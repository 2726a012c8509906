"""Tests of the calorimeter source: views, determinism, caching, shower physics, errors, figure, learning.

One generation of SIZE showers is shared by most tests through a module
cache directory; the physics tests simulate small mono-energetic beams.
"""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.data import load
from quanta.errors import UserError
from quanta.simulators.calorimeter import calorimeter, generate, show
from quanta.simulators.calorimeter.geometry import Calorimeter

SIZE = 600
SEED = 7


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache directory holding one generation of SIZE e/pi showers, made in chunks of 100 by 2 workers."""
    directory = tmp_path_factory.mktemp("calorimeter-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUANTA_CACHE", str(directory))
        patch.setattr(generate, "CHUNK_SHOWERS", 100)
        calorimeter(size=SIZE, seed=SEED, workers=2, progress=False)
        yield directory


@pytest.fixture
def use_cache(cache, monkeypatch):
    monkeypatch.setenv("QUANTA_CACHE", str(cache))
    return cache


def load_view(view, **params):
    return calorimeter(view=view, size=SIZE, seed=SEED, progress=False, **params)


def beam(energy, size=300, **params):
    """Mono-energetic e/pi showers (half of each) at ``energy`` GeV, features view."""
    data = calorimeter(view="features", size=size, seed=3, energy_min=energy, energy_max=energy,
                       progress=False, workers=1, **params)
    return data, {name: data.x[:, i] for i, name in enumerate(data.feature_names)}


def test_image_views(use_cache):
    flat, deep = load_view("image2d"), load_view("image3d")
    assert flat.x.shape == (SIZE, 1, 32, 32) and flat.x.dtype == np.float32
    assert deep.x.shape == (SIZE, 1, 30, 32, 32) and deep.x.dtype == np.float32
    np.testing.assert_allclose(deep.x.sum(axis=2), flat.x, rtol=1e-4, atol=1e-5)
    # zero suppression: every cell is empty or above 0.5 MIP
    hit = deep.x[deep.x != 0]
    assert hit.min() >= 0.5 * Calorimeter().mip - 1e-6
    assert flat.classes == ["e", "pi"] and flat.y.dtype == np.int64
    assert flat.info["view"] == "image2d" and flat.info["size"] == SIZE and flat.info["seed"] == SEED


def test_features_view_and_truth_arrays(use_cache):
    data, image = load_view("features"), load_view("image2d")
    names = data.feature_names
    assert data.x.shape == (SIZE, 30 + 8) and data.x.dtype == np.float32 and len(names) == 38
    assert np.isfinite(data.x).all()
    np.testing.assert_allclose(data.x[:, names.index("total_energy")], image.x.sum(axis=(1, 2, 3)), rtol=1e-4)
    layers = data.x[:, names.index("e_layer_00"):names.index("e_layer_29") + 1]
    np.testing.assert_allclose(layers.sum(axis=1), data.x[:, 0], rtol=1e-4)
    assert data["energy"].dtype == np.float32 and data["energy"].shape == (SIZE,)
    assert (data["energy"] >= 1.0).all() and (data["energy"] <= 100.0).all()
    assert data["impact"].shape == (SIZE, 2) and (np.abs(data["impact"]) <= 1.0).all()
    np.testing.assert_array_equal(data["particle"], data.y)
    electron = data.y == 0
    assert (data["em_fraction"][electron] == 1).all() and (data["start_depth"][electron] == 0).all()
    assert 0.2 < data["em_fraction"][~electron].mean() < 0.6


def test_energy_target(use_cache):
    data = load_view("features", target="energy")
    assert data.y.dtype == np.float32 and data.classes is None
    np.testing.assert_array_equal(data.y, data["energy"])


def test_three_particle_types():
    data = calorimeter(view="features", particles="e_gamma_pi", size=90, seed=2, progress=False, workers=1)
    assert data.classes == ["e", "gamma", "pi"]
    assert np.bincount(data.y).tolist() == [30, 30, 30]
    gamma = data.y == 1
    assert (data["start_depth"][gamma] > 0).all() and (data["em_fraction"][gamma] == 1).all()


def test_labels_balanced_and_shuffled(use_cache):
    y = load_view("image2d").y
    assert (y == 0).sum() == SIZE // 2 and (y == 1).sum() == SIZE // 2
    assert 0 < y[: SIZE // 2].sum() < SIZE // 2, "rows must be shuffled"


def test_cache_hit_does_not_simulate(use_cache, monkeypatch):
    first = load_view("image2d")

    def fail(*args, **kwargs):
        raise AssertionError("a cached data set was simulated again")

    monkeypatch.setattr(generate, "simulate", fail)
    again = load_view("features")
    np.testing.assert_array_equal(first.y, again.y)
    np.testing.assert_allclose(first.x.sum(axis=(1, 2, 3)), again.x[:, 0], rtol=1e-5)


def test_deterministic_across_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, "CHUNK_SHOWERS", 30)
    results = []
    for workers in (1, 2):
        monkeypatch.setenv("QUANTA_CACHE", str(tmp_path / f"workers{workers}"))
        results.append(calorimeter(view="image3d", size=120, seed=3, workers=workers, progress=False))
    np.testing.assert_array_equal(results[0].x, results[1].x)
    np.testing.assert_array_equal(results[0].y, results[1].y)
    np.testing.assert_array_equal(results[0]["energy"], results[1]["energy"])
    other = calorimeter(view="image3d", size=120, seed=4, workers=1, progress=False)
    assert not np.array_equal(other.x, results[0].x)


def test_em_shower_depth_grows_with_log_energy():
    energies = np.array([2.0, 5.0, 10.0, 20.0, 50.0])
    depth = []
    for energy in energies:
        data, columns = beam(energy)
        depth.append(columns["depth_mean"][data.y == 0].mean())
    slope, _ = np.polyfit(np.log(energies), depth, 1)
    # measured: slope 0.58 layers (0.83 X0) per e-fold, correlation 0.99
    assert 0.3 < slope < 1.0
    assert np.corrcoef(np.log(energies), depth)[0, 1] > 0.98


def test_em_resolution_falls_as_one_over_sqrt_energy():
    energies = np.array([2.0, 5.0, 10.0, 20.0, 50.0])
    resolution = []
    for energy in energies:
        data, columns = beam(energy)
        total = columns["total_energy"][data.y == 0]
        resolution.append(total.std() / total.mean())
    power, _ = np.polyfit(np.log(energies), np.log(resolution), 1)
    # measured: sigma/E = 25-28 % / sqrt(E), log-log slope -0.53
    assert -0.7 < power < -0.4
    assert 0.18 < resolution[2] * np.sqrt(10.0) < 0.35


def test_pion_showers_are_wider_fluctuate_more_and_respond_less():
    for energy in (10.0, 30.0):
        data, columns = beam(energy)
        electron, total, width = data.y == 0, columns["total_energy"], columns["width"]
        # measured at 10 GeV: widths 2.8 vs 6.6 cm, spreads 8 % vs 20 %, responses 0.99 vs 0.74
        assert width[~electron].mean() > 1.5 * width[electron].mean()
        spread = [total[m].std() / total[m].mean() for m in (electron, ~electron)]
        assert spread[1] > 1.5 * spread[0]
        response = [total[m].mean() / energy for m in (electron, ~electron)]
        assert 0.93 < response[0] < 1.05 and 0.6 < response[1] < 0.9  # e/h > 1 and leakage


def test_photons_start_later_than_electrons():
    data = calorimeter(view="features", particles="e_gamma_pi", size=600, seed=3, energy_min=10.0,
                       energy_max=10.0, progress=False, workers=1)
    depth = data.x[:, data.feature_names.index("depth_mean")]
    # measured: 0.9 layers (1.3 X0, the mean conversion depth 9/7 X0) deeper
    assert 0.4 < depth[data.y == 1].mean() - depth[data.y == 0].mean() < 1.5


@pytest.mark.parametrize(
    ("param", "value"),
    [("view", "voxels"), ("target", "charge"), ("particles", "e_mu"), ("size", 1), ("size", 10.5),
     ("seed", "one"), ("energy_min", -5.0), ("energy_min", 0.0), ("energy_max", 0.5), ("energy_max", 5000.0),
     ("pixels", 2), ("layers", 0), ("workers", -1)],
)
def test_bad_parameters(param, value):
    with pytest.raises(UserError, match=param) as error:
        calorimeter(**{param: value})
    assert str(value) in str(error.value) and "\n" not in str(error.value)


def test_registered_source_validates(use_cache):
    data = load("calorimeter", view="features", size=SIZE, seed=SEED, progress=False)
    assert data.name == "calorimeter" and len(data) == SIZE
    with pytest.raises(UserError, match="view"):
        load("calorimeter", view="graph")


@pytest.mark.parametrize("view", ["image2d", "image3d", "features"])
def test_show_returns_a_figure(use_cache, view):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = show(load_view(view))
    assert isinstance(figure, matplotlib.figure.Figure) and figure.axes
    plt.close(figure)


def test_boosted_trees_separate_electrons_from_pions(use_cache, tmp_path):
    run = quanta.fit("boosted_trees", load_view("features"), task="binary", params={"n_estimators": 100},
                     out=tmp_path, verbose=False)
    # measured: AUC 1.00 on the 90 test showers of SIZE = 600 (0.9995, accuracy 0.99, with 20,000)
    assert run.metrics["test"]["auc"] > 0.95, run.metrics["test"]
