"""Tests of the tracks source: views, determinism, caching, helix physics, edge window, errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

import quanta
from quanta.data import load
from quanta.errors import UserError
from quanta.simulators.tracks import TRACKML_RADII, show, tracks
from quanta.simulators.tracks import simulate as simulation
from quanta.simulators.tracks.graph import candidate_edges, window_efficiency, windows
from quanta.simulators.tracks.helix import crossings, fit_circle, radius

SIZE = 100
SEED = 3
EXACT = {"resolution_rphi": 0.0, "resolution_z": 0.0, "hit_efficiency": 1.0, "noise_hits": 0}


def test_hits_view():
    data = tracks(view="hits", size=SIZE, seed=SEED)
    n_hits = 40 * len(TRACKML_RADII) + 40
    assert data.x.shape == (SIZE, n_hits, 6) and data.x.dtype == np.float32
    assert data["mask"].shape == (SIZE, n_hits) and data["mask"].dtype == np.bool_
    assert data.y.dtype == np.int64 and data["particle"].dtype == np.int64
    mask = data["mask"]
    assert not data.x[~mask].any() and (data["particle"][~mask] == -1).all()
    np.testing.assert_array_equal(data.y, (data["particle"] >= 0).astype(np.int64))
    assert ((data["particle"] == -1) & mask).sum(axis=1).tolist() == [40] * SIZE  # the noise hits
    # hits lie on the layers, and are read out layer by layer
    r, layer = data.x[..., 3][mask], data.x[..., 5][mask].astype(int)
    np.testing.assert_allclose(r, np.asarray(TRACKML_RADII)[layer], rtol=1e-5)
    assert (np.diff(data.x[..., 5], axis=1)[mask[:, 1:]] >= 0).all()
    assert (10 <= data["n_tracks"]).all() and (data["n_tracks"] <= 40).all()


def test_graph_view_and_edge_labels():
    data = tracks(view="graph", size=SIZE, seed=SEED)
    e = data["edge_index"].shape[1]
    assert e % 64 == 0 and data["edge_mask"].shape == (SIZE, e)
    assert data["edge_features"].shape == (SIZE, e, 8) and data.y.shape == (SIZE, e)
    assert data.y.dtype == np.float32 and data["edge_index"].dtype == np.int64
    np.testing.assert_array_equal(data["edge_mask"].sum(axis=1), data["n_edges"])
    for event in range(3):
        edges = data["edge_index"][event][data["edge_mask"][event]]
        layer, particle = data.x[event, :, 5], data["particle"][event]
        assert data["mask"][event][edges].all(), "edges join real hits"
        assert (layer[edges[:, 1]] == layer[edges[:, 0]] + 1).all(), "edges join adjacent layers"
        same = (particle[edges[:, 0]] == particle[edges[:, 1]]) & (particle[edges[:, 0]] >= 0)
        np.testing.assert_array_equal(data.y[event][data["edge_mask"][event]], same.astype(np.float32))
    assert not data.y[~data["edge_mask"]].any()
    truncated = tracks(view="graph", size=SIZE, seed=SEED, max_edges=64)
    assert truncated["edge_index"].shape == (SIZE, 64, 2) and truncated["edge_mask"].all()


def test_edges_view_is_the_pooled_graph():
    graph = tracks(view="graph", size=SIZE, seed=SEED)
    edges = tracks(view="edges", size=SIZE, seed=SEED)
    assert edges.x.shape == (graph["n_edges"].sum(), 8) and edges.classes == ["fake", "true"]
    np.testing.assert_array_equal(edges.x, graph["edge_features"][graph["edge_mask"]])
    np.testing.assert_array_equal(edges.y, graph.y[graph["edge_mask"]].astype(np.int64))
    np.testing.assert_array_equal(edges["event"], np.repeat(np.arange(SIZE), graph["n_edges"]))


def test_parameters_view_and_targets():
    data = tracks(view="parameters", size=SIZE, seed=SEED)
    assert data.x.shape[1:] == (len(TRACKML_RADII), 6) and data["mask"].shape == data.x.shape[:2]
    assert (data["mask"].sum(axis=1) >= 3).all() and not data.x[~data["mask"]].any()
    assert data.y.dtype == np.float32 and ((data.y >= 0.5) & (data.y <= 10)).all()
    qpt = tracks(view="parameters", target="qpt", size=SIZE, seed=SEED)
    np.testing.assert_allclose(qpt.y, data["charge"] / data["pt"], rtol=1e-6)
    charge = tracks(view="parameters", target="charge", size=SIZE, seed=SEED)
    assert charge.classes == ["negative", "positive"]
    np.testing.assert_array_equal(charge.y, (data["charge"] > 0).astype(np.int64))


def test_deterministic_and_cached(monkeypatch):
    first = tracks(view="hits", size=50, seed=11)

    def fail(*args, **kwargs):
        raise AssertionError("cached events were simulated again")

    monkeypatch.setattr(simulation, "simulate", fail)
    start = time.perf_counter()
    again = tracks(view="hits", size=50, seed=11)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(first.x, again.x)
    monkeypatch.undo()
    other = tracks(view="hits", size=50, seed=12)
    assert not np.array_equal(first.x, other.x)


def test_circle_fit_gives_the_helix_radius_and_charge_sets_the_bending():
    data = tracks(view="parameters", size=20, seed=SEED, **EXACT, field=3.8)
    checked = 0
    for row in range(0, len(data), 7):
        mask = data["mask"][row]
        x, y = data.x[row, mask, 0].astype(np.float64), data.x[row, mask, 1].astype(np.float64)
        _, _, fitted = fit_circle(x, y)
        expected = radius(data["pt"][row], 3.8)
        np.testing.assert_allclose(fitted, expected, rtol=2e-3)
        # q > 0 turns clockwise seen from +z: the cross product of successive chords is negative
        chords = np.diff(np.stack([x, y], axis=1), axis=0)
        turn = chords[:-1, 0] * chords[1:, 1] - chords[:-1, 1] * chords[1:, 0]
        assert (np.sign(turn) == -data["charge"][row]).all()
        checked += 1
    assert checked > 20


def test_helix_crossing_by_hand():
    # q = +1, pT = 1.2 GeV, B = 2 T: R = 2 m; from the origin along +x it reaches r = 1 m at
    # azimuth -asin(r / 2R), after a transverse path s = 2R asin(r / 2R)
    point = crossings(np.array([1.2]), np.array([1.0]), np.array([0.0]), np.array([0.5]),
                      np.zeros((1, 3)), 2.0, 1.0)[0]
    np.testing.assert_allclose(np.hypot(point[0], point[1]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.arctan2(point[1], point[0]), -np.arcsin(0.25), rtol=1e-12)
    np.testing.assert_allclose(point[3], 4.0 * np.arcsin(0.25), rtol=1e-12)
    np.testing.assert_allclose(point[2], point[3] * np.sinh(0.5), rtol=1e-12)
    looper = crossings(np.array([0.2]), np.array([-1.0]), np.array([0.0]), np.array([0.0]),
                       np.zeros((1, 3)), 2.0, 1.0)  # 2R = 0.67 m < 1 m: never gets there
    assert np.isnan(looper).all()


def test_candidate_window_keeps_the_true_edges():
    particles = simulation.Particles((10, 40), 0.5, 10.0, 1.0, 0.05)  # the defaults of tracks()
    detector = simulation.Detector(TRACKML_RADII, 1.5, 2.0, 5e-5, 1.5e-4, 0.98, 40)
    raw = simulation.simulate(300, 5, particles, detector)
    window = windows(TRACKML_RADII, 2.0, 0.5, 1.0, 0.05, 5e-5, 1.5e-4)
    event, pairs, _ = candidate_edges(raw["hits"], raw["hit_layer"], raw["hit_mask"], window)
    efficiency, purity = window_efficiency(raw, event, pairs)
    # measured: efficiency 1.000 (0.99995 with 20-60 tracks), purity 0.86 at 10-40 tracks + 40 noise hits
    assert efficiency > 0.995
    assert 0.6 < purity < 0.98
    n_pairs = sum(int((raw["hit_layer"] == layer).sum(axis=1) @ (raw["hit_layer"] == layer + 1).sum(axis=1))
                  for layer in range(len(TRACKML_RADII) - 1))
    assert len(event) < 0.1 * n_pairs, "the window cuts the combinatorics of adjacent-layer pairs"


@pytest.mark.parametrize(
    ("param", "value"),
    [("view", "points"), ("target", "mass"), ("size", 0), ("seed", 1.5), ("tracks_per_event", (5, 2)),
     ("pt_min", -1.0), ("pt_max", 0.1), ("eta_max", 0.0), ("field", 0.0), ("layer_radii", (0.1, 0.05, 0.2)),
     ("half_length", -1.0), ("resolution_rphi", -1e-5), ("hit_efficiency", 0.0), ("noise_hits", -3),
     ("vertex_sigma_z", -0.1), ("max_edges", -1)],
)
def test_bad_parameters(param, value):
    with pytest.raises(UserError, match=param) as error:
        tracks(**{param: value})
    assert str(value) in str(error.value) and "\n" not in str(error.value)


def test_target_belongs_to_the_parameters_view():
    with pytest.raises(UserError, match="target"):
        tracks(view="graph", target="charge")


def test_registered_source_validates():
    data = load("tracks", view="edges", size=20, seed=SEED, tracks_per_event=[5, 10])
    assert data.name == "tracks" and data.info["tracks_per_event"] == [5, 10]
    with pytest.raises(UserError, match="view"):
        load("tracks", view="jets")


def test_show_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for view in ("hits", "graph", "edges", "parameters"):
        figure = show(tracks(view=view, size=20, seed=SEED))
        assert isinstance(figure, matplotlib.figure.Figure) and figure.axes
        plt.close(figure)


def test_boosted_trees_classify_edges(tmp_path):
    data = tracks(view="edges", size=SIZE, seed=SEED)
    run = quanta.fit("boosted_trees", data, task="binary", params={"n_jobs": 1}, out=tmp_path, verbose=False)
    # measured: AUC 0.905 with 100 events (25k edges), 0.920 with 200 and 0.918 with 2,000 (0.5M edges)
    assert run.metrics["test"]["auc"] > 0.87, run.metrics["test"]


def test_boosted_trees_measure_q_over_pt(tmp_path):
    data = tracks(view="parameters", target="qpt", size=SIZE, seed=SEED)
    run = quanta.fit("boosted_trees", data, task="regression", params={"n_jobs": 1}, out=tmp_path,
                     verbose=False)
    # measured: robust q/pT resolution 0.011 /GeV with 100 events (2.4k tracks), 0.007 with 1,000
    # (relative pT resolution 2.3 % and 1.4 %); the range of q/pT is [-2, 2] /GeV
    assert run.metrics["test"]["resolution_robust"] < 0.025, run.metrics["test"]
    assert run.metrics["test"]["r2"] > 0.99
