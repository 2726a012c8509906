"""The autonomous experiment learns: the GP map reaches the target before raster and random."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from quanta.autonomous import compare_strategies, run_campaign
from quanta.autonomous.beamline import Beamline, Curve
from quanta.autonomous.features import read_feature
from quanta.autonomous.sample import make_sample
from quanta.autonomous.strategies import raster_plan

pytest.importorskip("botorch")
pytestmark = pytest.mark.usefixtures("one_thread")

#: a small, smooth sample and a short budget: some 10 s for two seeds of three strategies
SMALL = {"sample": {"bumps": 6, "width": 0.2}, "budget": {"measurements": 60},
         "error": {"grid": 25, "every": 5, "target_A": 3.0},
         "gp": {"batch": 4, "candidates": 256}, "seeds": [0, 2]}


def test_gp_reaches_the_target_error_with_fewer_measurements_than_raster_and_random():
    summary = compare_strategies(SMALL).summary["strategies"]
    gp, raster, random = (summary[s]["measurements_to_target"] for s in ("gp", "raster", "random"))
    assert None not in gp, gp
    for seed, (ours, grid, uniform) in enumerate(zip(gp, raster, random, strict=True)):
        assert ours < (grid or 61) and ours < (uniform or 61), (seed, gp, raster, random)
    # measured: gp [25, 20], raster [55, 50], random [50, 45] (seeds 0 and 2)
    assert summary["gp"]["mean_measurements_to_target"] <= 0.6 * summary["raster"][
        "mean_measurements_to_target"]


@pytest.mark.slow
def test_gp_needs_fewer_measurements_than_raster_over_five_seeds():
    """The default settings (150 measurements, 2.5 A) over five seeds; some 3 minutes."""
    config = {"seeds": [0, 1, 2, 3, 4]}
    summary = compare_strategies(config).summary["strategies"]
    assert summary["gp"]["reached"] == 5
    assert summary["gp"]["mean_measurements_to_target"] < \
        summary["raster"]["mean_measurements_to_target"]
    assert summary["gp"]["mean_measurements_to_target"] < \
        summary["random"]["mean_measurements_to_target"]


def test_the_raster_is_a_serpentine_of_the_budget_covering_m_over_n_of_the_sample():
    box = np.array([[0.0, 10.0], [0.0, 10.0]])
    plan = raster_plan(box, 100)
    assert plan.shape == (100, 2) and len(np.unique(plan[:, 0])) == 10
    assert np.all(np.diff(plan[:10, 0]) > 0) and np.all(np.diff(plan[10:20, 0]) < 0)
    assert plan[:30, 1].max() < 3.0  # after 30 of 100 the scan has covered the lowest 30 %
    assert (plan > 0).all() and (plan < 10).all()


def test_the_noise_of_a_curve_falls_with_the_square_root_of_exposure():
    sample = make_sample(seed=3)
    spreads = []
    for exposure in (1.0, 100.0):
        beamline = Beamline(exposure=exposure)
        curve = beamline.measure(sample, np.array([5.0, 5.0]), np.random.default_rng(0))
        spreads.append(np.median(curve.sigma[:20] / curve.intensity[:20]))  # low q: many counts
    assert spreads[0] / spreads[1] == pytest.approx(10.0, rel=0.1)


def test_a_move_costs_distance_over_speed_plus_overhead_and_exposure():
    beamline = Beamline(exposure=2.0, motor_speed=4.0, overhead=0.5)
    assert beamline.seconds(np.zeros(2), np.array([3.0, 4.0])) == pytest.approx(5 / 4 + 0.5 + 2)
    assert beamline.seconds(np.ones(2), np.ones(2)) == 2.0  # no move, no overhead


def test_the_sample_fields_span_their_ranges():
    sample = make_sample(radius=(30.0, 120.0), polydispersity=(0.05, 0.2), seed=5)
    grid = sample.grid(101)
    radius, spread = sample.radius(grid), sample.polydispersity(grid)
    assert radius.min() == pytest.approx(30.0, abs=0.5)
    assert radius.max() == pytest.approx(120.0, abs=0.5)
    assert 0.05 <= spread.min() < 0.06 and 0.19 < spread.max() <= 0.2


def test_each_feature_reads_its_radius_from_a_counted_curve():
    sample, beamline = make_sample(seed=3), Beamline(flux_per_second=1e5)
    point = np.array([[2.0, 2.0]])
    radius, spread = sample.radius(point)[0], sample.polydispersity(point)[0]  # 102.5 A, 0.106
    z = 1 / spread**2 - 1  # Schulz: the Guinier radius is sqrt(<R^8>/<R^6>)
    z_average = radius * np.sqrt((z + 8) * (z + 7) / (z + 1) ** 2)
    curve = beamline.measure(sample, point[0], np.random.default_rng(0))
    guinier, guinier_error = read_feature("guinier_radius", curve)
    assert guinier == pytest.approx(z_average, rel=0.02) and 0 < guinier_error < 1.0
    fitted, fitted_error = read_feature("fitted_radius", curve)
    assert fitted == pytest.approx(radius, rel=0.01) and 0 < fitted_error < 1.0
    minimum, _ = read_feature("first_minimum_radius", curve)
    assert minimum == pytest.approx(radius, rel=0.06)


def test_a_curve_without_a_feature_is_recorded_as_failed_and_skipped():
    q = np.geomspace(0.003, 0.3, 40)
    rising = Curve(q, 1.0 + q, 0.01 * np.ones_like(q))  # ln I grows with q^2: no Guinier region
    assert read_feature("guinier_radius", rising) is None
    # q_max 0.08: the first minimum of the smallest spheres (below ~55 A) lies beyond the curve
    config = {"feature": "first_minimum_radius", "beamline": {"q_max": 0.08},
              "budget": {"measurements": 20}, "error": {"grid": 12, "every": 10},
              "gp": {"initial": 8, "batch": 6, "candidates": 64}}
    campaign = run_campaign(config, strategy="gp", seed=1)
    assert len(campaign.measurements) == 20
    assert 0 < campaign.failed < 20
    assert sum(m.sigma is None for m in campaign.measurements) == campaign.failed
    assert campaign.errors.shape == (2, 3) and np.isfinite(campaign.errors[:, 2]).all()


def test_a_time_budget_stops_before_the_measurement_that_would_pass_it():
    config = {"budget": {"measurements": 100, "seconds": 30.0}, "error": {"grid": 10, "every": 50}}
    campaign = run_campaign(config, strategy="raster", seed=0)
    elapsed = campaign.measurements[-1].elapsed
    assert elapsed <= 30.0 and len(campaign.measurements) < 100
    assert elapsed + campaign.measurements[1].seconds > 30.0  # the next raster step would not fit
    assert campaign.errors[-1, 0] == len(campaign.measurements)  # the last map is scored too


def test_the_module_docstring_example_runs():
    import quanta.autonomous

    result = doctest.testmod(quanta.autonomous)
    assert result.attempted >= 5 and result.failed == 0
