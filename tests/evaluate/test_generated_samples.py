"""Tests for quanta.evaluate.generated and .showers: generated samples compared with real ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

import quanta
from quanta.errors import UserError
from quanta.evaluate.generated import (
    common_edges,
    compare_observable,
    compare_samples,
    duplicate_fraction,
    separation_power,
)
from quanta.evaluate.showers import (
    cell_size_cm,
    layer_groups_of,
    readout_threshold,
    shower_observables,
)

#: the small calorimeter of these tests: 6 layers of 8 x 8 cells (6 cm cells)
SMALL = {"view": "image3d", "pixels": 8, "layers": 6, "size": 1500, "progress": False, "workers": 1}


def showers(seed: int, **overrides):
    return quanta.data.load("calorimeter", **{**SMALL, **overrides}, seed=seed)


def strict_json(record: dict) -> dict:
    return json.loads(json.dumps(record, allow_nan=False))


# -- closed forms ----------------------------------------------------------------------------


def test_separation_power_closed_forms():
    assert separation_power([1, 2, 3, 0], [2, 4, 6, 0]) == 0.0  # the same shape at another scale
    assert separation_power([1, 1, 0, 0], [0, 0, 3, 1]) == 1.0  # disjoint
    # h = (1/2, 1/2), g = (1, 0): 1/2 (1/4 / (3/2) + 1/4 / (1/2)) = 1/3
    assert separation_power([2, 2], [3, 0]) == pytest.approx(1 / 3)
    assert separation_power([0, 0], [1, 0]) == 1.0
    assert separation_power([0, 0], [0, 0]) == 0.0


def test_wasserstein_of_shifted_samples_is_the_shift():
    rng = np.random.default_rng(3)
    real = rng.normal(0.0, 2.0, 5000)
    record = compare_observable("v", real, real + 0.7, unit="cm")
    assert record["wasserstein"] == pytest.approx(0.7, abs=1e-9)
    assert record["wasserstein_normalised"] == pytest.approx(0.7 / real.std(), rel=1e-9)
    assert record["unit"] == "cm"
    assert sum(record["real"]) == pytest.approx(1.0) and sum(record["fake"]) == pytest.approx(1.0)
    assert len(record["edges"]) == 41  # 40 bins
    same = compare_observable("v", real, real.copy())
    assert same["separation_power"] == 0.0 and same["wasserstein"] == 0.0


def test_edges_cover_both_samples_and_count_integers_one_by_one():
    edges = common_edges(np.array([0.0, 1.0]), np.array([10.0, 11.0]))
    assert edges[0] <= 0.05 and edges[-1] >= 10.95
    assert np.array_equal(
        common_edges(np.array([3.0, 5.0]), np.array([4.0, 7.0])), np.arange(2.5, 8.0)
    )
    log = common_edges(np.array([0.02, 0.1]), np.array([1.0, 5.0]), log=True)
    assert np.allclose(np.diff(np.log(log)), np.diff(np.log(log))[0])  # log-spaced
    assert common_edges(np.full(5, 2.0), np.full(5, 2.0))[0] < 2.0  # a constant gets a range too
    # values beyond the edges land in the end bins: the histograms still hold everything
    record = compare_observable("v", np.r_[np.zeros(998), -1e6, 1e6], np.zeros(1000))
    assert record["real"][0] + record["real"][-1] > 0 and sum(record["real"]) == pytest.approx(1.0)


def test_duplicate_fraction():
    samples = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [1.0, 2.0]])
    assert duplicate_fraction(samples) == pytest.approx(0.5)
    assert duplicate_fraction(np.eye(3)) == 0.0


# -- shower observables ----------------------------------------------------------------------


def test_observables_of_a_hand_made_shower():
    pixels, cell = 8, cell_size_cm(8)
    assert cell == 6.0  # the 48 cm face in 8 cells
    threshold = readout_threshold()
    assert threshold == pytest.approx(0.5 * 0.034, rel=0.02)  # half a MIP of 34 MeV
    x = np.zeros((2, 1, 3, pixels, pixels), np.float32)
    x[0, 0, 1, 2, 5] = 3.0  # layer 1, row (y) 2, column (x) 5
    x[0, 0, 2, 4, 4] = x[0, 0, 2, 4, 6] = 0.5  # layer 2: two cells 12 cm apart in x
    x[0, 0, 0, 0, 0] = 0.5 * threshold  # below the threshold: counted in energies, not in n_cells
    x[1, 0, 1, 3, 3] = 1.0
    observed = shower_observables(x, np.array([4.0, 2.0]), cell, threshold)
    assert observed["e_total_over_e_incident"] == pytest.approx(
        [(4.0 + 0.5 * threshold) / 4.0, 0.5]
    )
    assert observed["e_layer_01"] == pytest.approx([3.0, 1.0])
    assert observed["centre_x_layer_01"][0] == pytest.approx(5.5 * cell - 24.0)
    assert observed["centre_y_layer_01"][0] == pytest.approx(2.5 * cell - 24.0)
    assert observed["width_x_layer_01"][0] == pytest.approx(0.0, abs=1e-6)
    assert observed["centre_x_layer_02"][0] == pytest.approx(5.5 * cell - 24.0)
    assert observed["width_x_layer_02"][0] == pytest.approx(cell)  # +-6 cm about the centre
    assert observed["width_y_layer_02"][0] == pytest.approx(0.0, abs=1e-6)
    assert (
        observed["centre_x_layer_02"][1] == 0.0 and observed["width_x_layer_02"][1] == 0.0
    )  # empty
    assert observed["n_cells"].tolist() == [3.0, 1.0]
    assert "e_total" in shower_observables(x, None, cell, threshold)
    one_layer = shower_observables(x.sum(axis=2), None, cell, threshold)  # an image2d view
    assert set(one_layer) == {"e_total", "centre_x", "centre_y", "width_x", "width_y", "n_cells"}


def test_many_layers_are_grouped():
    groups = layer_groups_of(30)
    assert len(groups) == 10 and groups[0] == (0, 2) and groups[-1] == (27, 29)
    assert layer_groups_of(6) == [(i, i) for i in range(6)]
    x = np.zeros((2, 1, 30, 4, 4), np.float32)
    x[:, 0, 4, 1, 1] = 1.0
    observed = shower_observables(x, None, 12.0, 0.01)
    assert observed["e_layers_03_05"].tolist() == [1.0, 1.0]
    assert len(observed) == 1 + 10 * 5 + 1


# -- showers compared: the simulator against itself and against crude fakes --------------------


def test_showers_from_the_simulator_pass_crude_fakes_fail():
    # a mono-energetic beam: generated shower i is given real shower i's energy, as a conditional
    # generator is, and another seed of the simulator is a perfect generator
    real, other = (
        showers(11, energy_min=20.0, energy_max=20.0),
        showers(12, energy_min=20.0, energy_max=20.0),
    )
    same = strict_json(
        compare_samples(real.x, other.x, real.arrays, real.info, seed=1, conditions=("energy",))
    )
    assert same["kind"] == "calorimeter showers"
    names = [o["name"] for o in same["observables"]]
    assert names[:3] == ["e_total_over_e_incident", "e_layer_00", "centre_x_layer_00"]
    assert "width_y_layer_05" in names and names[-2:] == ["n_cells", "cell_energy"]
    assert len(names) == 1 + 6 * 5 + 2
    assert 0.44 < same["classifier_auc"] < 0.56 and 0.44 < same["classifier_auc_high_level"] < 0.56
    assert same["separation_power_mean"] < 0.02 and same["separation_power_max"] < 0.05
    assert same["wasserstein_mean"] < 0.1
    assert 0.9 < same["diversity"]["nearest_neighbour_ratio"] < 1.1
    assert same["diversity"]["duplicate_fraction"] == 0.0
    assert same["classifier"]["low_level_features"] == 6 * 64 + 1  # the cells and log E

    # crude fakes, told apart on 800 showers: the mean shower with 30 % noise per cell (every
    # cell fires, no fluctuations of the shape) ...
    n, rng = 800, np.random.default_rng(0)
    first = {"energy": real["energy"][:n]}
    mean = real.x.mean(axis=0, keepdims=True)
    noisy = (mean * rng.lognormal(0.0, 0.3, (n, *real.x.shape[1:]))).astype(np.float32)
    crude = compare_samples(real.x[:n], noisy, first, real.info, seed=1, conditions=("energy",))
    assert crude["classifier_auc"] > 0.95 and crude["classifier_auc_high_level"] > 0.95
    assert crude["separation_power_mean"] > 0.3 and crude["separation_power_max"] > 0.8
    assert crude["diversity"]["nearest_neighbour_ratio"] < 0.5

    # ... and real showers with their layers in reverse order: right energies, wrong depth profile
    reversed_layers = np.ascontiguousarray(other.x[:n, :, ::-1])
    flipped = compare_samples(
        real.x[:n], reversed_layers, first, real.info, seed=1, conditions=("energy",)
    )
    assert flipped["classifier_auc"] > 0.9 and flipped["separation_power_max"] > 0.5
    separation = {o["name"]: o["separation_power"] for o in flipped["observables"]}
    assert separation["e_total_over_e_incident"] < 0.05  # the same total energy
    assert separation["e_layer_00"] > 0.3


def test_a_collapsed_generator_has_no_diversity():
    real = showers(13, size=600)
    collapsed = np.repeat(real.x[:1], len(real), axis=0)
    record = compare_samples(real.x, collapsed, real.arrays, real.info, seed=2, conditions=())
    assert record["diversity"]["duplicate_fraction"] == pytest.approx(1 - 1 / len(real))
    assert record["diversity"]["nearest_neighbour_ratio"] < 0.01
    assert record["diversity"]["pairwise_ratio"] < 0.5
    assert record["classifier_auc"] > 0.95


def test_unconditioned_showers_over_a_spectrum():
    # a generator that was not given the energy: total energy in GeV, no energy in the classifier
    real, other = showers(15), showers(16)
    record = strict_json(
        compare_samples(real.x, other.x, real.arrays, real.info, seed=3, conditions=())
    )
    assert (
        record["observables"][0]["name"] == "e_total" and record["observables"][0]["unit"] == "GeV"
    )
    assert record["conditioned_on_energy"] is False
    assert record["classifier"]["low_level_features"] == 6 * 64
    assert (
        0.44 < record["classifier_auc"] < 0.56 and 0.44 < record["classifier_auc_high_level"] < 0.56
    )
    assert record["separation_power_mean"] < 0.02


# -- any other data ------------------------------------------------------------------------------


def test_generic_samples():
    rng = np.random.default_rng(4)
    scale = np.linspace(0.5, 3.0, 40)
    real, other = rng.normal(0.0, scale, (1500, 40)), rng.normal(0.0, scale, (1500, 40))
    same = strict_json(compare_samples(real, other, {}, {"view": "features"}, seed=0))
    assert same["kind"] == "generic"
    names = [o["name"] for o in same["observables"]]
    assert len(names) == 33 and names[-1] == "x_sum"
    assert "x[39]" in names and "x[0]" not in names  # the 32 inputs of largest variance
    assert 0.44 < same["classifier_auc"] < 0.56 and same["separation_power_mean"] < 0.03
    shifted = other.copy()
    shifted[:, 39] += 3.0  # one input moved by one standard deviation
    moved = compare_samples(real, shifted, {}, {}, seed=0)
    by_name = {o["name"]: o for o in moved["observables"]}
    assert moved["separation_power_max_observable"] == "x[39]"
    assert by_name["x[39]"]["wasserstein_normalised"] == pytest.approx(1.0, abs=0.1)
    assert moved["classifier_auc"] > 0.7
    images = compare_samples(real.reshape(-1, 1, 5, 8), other.reshape(-1, 1, 5, 8), {}, {}, seed=0)
    assert "x[0,4,7]" in [o["name"] for o in images["observables"]]


def test_bad_samples_are_refused_or_counted():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(100, 4))
    with pytest.raises(
        UserError,
        match=r"^generated samples: expected samples shaped \[4\] like the data's "
        r"x; received \[5\]$",
    ):
        compare_samples(real, rng.normal(size=(100, 5)), {}, {}, seed=0)
    with pytest.raises(
        UserError,
        match=r"^generated samples: 100 of 100 are not finite; at least 2 finite "
        r"samples are needed to compare$",
    ):
        compare_samples(real, np.full((100, 4), np.nan), {}, {}, seed=0)
    fake = rng.normal(size=(100, 4))
    fake[:3, 1] = np.inf
    record = strict_json(compare_samples(real, fake, {}, {}, seed=0))
    assert record["samples"] == {"real": 100, "fake": 97, "fake_not_finite": 3}


def test_non_finite_showers_leave_out_their_pairs():
    real = showers(17, size=300)
    fake = real.x.copy()
    fake[:5, 0, 0, 0, 0] = np.nan
    record = strict_json(
        compare_samples(real.x, fake, real.arrays, real.info, seed=0, conditions=("energy",))
    )
    assert record["samples"] == {"real": 300, "fake": 295, "fake_not_finite": 5}
    assert record["separation_power_max"] == 0.0  # the same showers, pair by pair
    assert record["diversity"]["duplicate_fraction"] == 0.0


def test_conditioned_showers_need_one_generated_shower_per_energy():
    real = showers(17, size=300)
    with pytest.raises(
        UserError,
        match=r"^generated samples: 200 generated and 300 real showers with "
        r"300 incident energies; a conditional generator gives one per "
        r"energy$",
    ):
        compare_samples(
            real.x, real.x[:200], real.arrays, real.info, seed=0, conditions=("energy",)
        )
    unpaired = compare_samples(real.x, real.x[:200], real.arrays, real.info, seed=0)
    assert unpaired["samples"]["fake"] == 200 and unpaired["conditioned_on_energy"] is False
