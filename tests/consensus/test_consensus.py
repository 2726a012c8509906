"""The radius consensus, calibrated on simulated spheres: its 68 % interval covers; it is best.

Default prior (R 20-200 A log-uniform, Schulz polydispersity 0-0.2, flux
1e4-1e6, 128 q from 0.005 to 0.5 1/A, dq/q = 0.05); calibration on 400 curves
(seed 1), test on 200 fresh ones (seed 2). Measured (see the report numbers
printed with ``-s``): Guinier + first minimum cover 65.5 +- 3.4 % with an RMS
relative error of 4.5 % (calibrated Guinier 6.2 %, first minimum 14.0 %);
with the network 70.5 +- 3.2 % and 2.7 % (network alone 3.0 %); the naive
inverse-variance combination covers 0 %.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

import quanta.consensus as consensus_module
from quanta.consensus import (
    Calibration,
    Consensus,
    CurvePrior,
    CurveSet,
    Estimator,
    NetworkEstimator,
    simulate_curves,
    train_network,
)
from quanta.errors import UserError
from quanta.inference.size_estimates import guinier_radius

pytestmark = pytest.mark.usefixtures("one_thread")

COVERAGE_BAND = (0.58, 0.78)  # 68 % +- 3 binomial errors of 200 curves (3.3 points each)


@pytest.fixture(scope="module")
def prior():
    return CurvePrior()


@pytest.fixture(scope="module")
def calibration_curves(prior):
    return simulate_curves(400, seed=1, prior=prior)


@pytest.fixture(scope="module")
def test_curves(prior):
    return simulate_curves(200, seed=2, prior=prior)


@pytest.fixture(scope="module")
def two(calibration_curves, prior):
    return Consensus.calibrate(
        ["guinier", "first_minimum"], calibration_curves, calibration_curves.radius, prior
    )


@pytest.fixture(scope="module")
def network(prior):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_network(prior, seed=5)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def three(calibration_curves, prior, network):
    return Consensus.calibrate(
        ["guinier", "first_minimum", network], calibration_curves, calibration_curves.radius, prior
    )


def _check_calibrated(summary, names):
    print({key: round(value, 4) for key, value in summary.items() if "_all" not in key})
    assert COVERAGE_BAND[0] <= summary["coverage_68"] <= COVERAGE_BAND[1]
    best = min(summary[f"rms_relative_error_{name}"] for name in names)
    assert summary["rms_relative_error"] < best
    assert summary["rms_relative_error_all"] < min(
        summary[f"rms_relative_error_{n}_all"] for n in names
    )
    assert summary["rms_relative_error"] < min(
        summary[f"raw_rms_relative_error_{n}"] for n in names
    )
    assert summary["coverage_68_naive"] < 0.2  # the fit sigmas know nothing of polydispersity


def test_guinier_and_first_minimum_combine_into_a_calibrated_better_radius(two, test_curves):
    summary = two.assess(test_curves, test_curves.radius).summary()
    _check_calibrated(summary, ("guinier", "first_minimum"))
    assert summary["rms_relative_error"] < 0.055 and summary["rms_relative_error_guinier"] > 0.055


def test_the_network_joins_the_consensus_and_it_still_beats_the_network(three, test_curves):
    summary = three.assess(test_curves, test_curves.radius).summary()
    _check_calibrated(summary, ("guinier", "first_minimum", "network"))
    assert summary["rms_relative_error_network"] < 0.04  # the network learned the radius
    assert summary["rms_relative_error"] < 0.03


def test_the_naive_combination_is_over_confident(two, test_curves):
    summary = two.assess(test_curves, test_curves.radius).summary()
    assert summary["coverage_68_naive"] < 0.05
    naive = two.naive(test_curves.q, test_curves.intensity[0], test_curves.sigma[0])
    honest = two.combine(test_curves.q, test_curves.intensity[0], test_curves.sigma[0])
    assert naive.sigma < 0.3 * honest.sigma


def test_taking_the_errors_as_independent_would_be_over_confident(two, test_curves):
    """Guinier and the first minimum both read high on polydisperse curves (correlation ~0.5)."""
    from dataclasses import replace

    assert two.calibration.correlation[0, 1] > 0.3
    independent = Consensus(two.estimators, replace(two.calibration, correlation=np.eye(2)), two.q)
    summary = independent.assess(test_curves, test_curves.radius).summary()
    assert summary["coverage_68"] < COVERAGE_BAND[0]  # measured 0.46
    assert summary["rms_relative_error"] > two.assess(test_curves, test_curves.radius).summary()[
        "rms_relative_error"]


def test_a_flat_prior_gives_nearly_the_same_answer_and_covers_too(two, test_curves):
    flat = two.assess(test_curves, test_curves.radius, prior="flat")
    calibrated = two.assess(test_curves, test_curves.radius)
    inner = (test_curves.radius > 30) & (test_curves.radius < 150)  # away from the prior's edges
    assert np.allclose(flat.radius[inner], calibrated.radius[inner], rtol=0.01)
    assert COVERAGE_BAND[0] <= flat.summary()["coverage_68"] <= COVERAGE_BAND[1]


def _flaky(q, intensity, sigma):
    """Guinier, refusing a curve whose last point has under 30 counts (about a third of them)."""
    if (intensity[-1] / sigma[-1]) ** 2 < 30:
        raise UserError("flaky: too few counts at high q")
    return guinier_radius(q, intensity, sigma)


def test_a_failed_estimate_is_left_out_and_the_rest_combine_by_their_marginal(
    calibration_curves, prior, test_curves
):
    flaky = Estimator("flaky_guinier", _flaky)
    both = Consensus.calibrate(
        ["first_minimum", flaky], calibration_curves, calibration_curves.radius, prior
    )
    assert 20 < both.calibration.available[1] < 0.9 * len(calibration_curves)
    assessment = both.assess(test_curves, test_curves.radius)
    failed = np.flatnonzero(np.isnan(assessment.raw[:, 1]))
    assert len(failed) > 10 and np.all(np.isfinite(assessment.radius))
    assert COVERAGE_BAND[0] <= assessment.summary()["coverage_68"] <= COVERAGE_BAND[1]
    i = int(failed[0])
    estimate = both.combine(test_curves.q, test_curves.intensity[i], test_curves.sigma[i])
    assert estimate.per_estimator["flaky_guinier"].failure == "flaky: too few counts at high q"
    assert estimate.per_estimator["first_minimum"].failure is None
    c = both.calibration
    alone = Calibration(
        c.offset[:1],
        c.gain[:1],
        c.log_scatter[:1],
        c.scatter_slope[:1],
        np.eye(1),
        c.centre,
        c.log_radius_range,
        c.curves,
        c.available[:1],
    )
    marginal = Consensus(both.estimators[:1], alone, both.q, prior).combine(
        test_curves.q, test_curves.intensity[i], test_curves.sigma[i]
    )
    assert estimate.radius == pytest.approx(marginal.radius, rel=1e-9)
    assert estimate.interval == pytest.approx(marginal.interval, rel=1e-9)


def test_a_curve_no_estimator_reads_is_refused_naming_the_failures(
    calibration_curves, prior, test_curves
):
    flaky = Consensus.calibrate(
        [Estimator("flaky_guinier", _flaky)], calibration_curves, calibration_curves.radius, prior
    )
    i = next(
        i
        for i in range(len(test_curves))
        if (test_curves.intensity[i, -1] / test_curves.sigma[i, -1]) ** 2 < 30
    )
    with pytest.raises(
        UserError, match=r"^curve: no estimator gave a radius \(flaky: too few counts at high q\)$"
    ):
        flaky.combine(test_curves.q, test_curves.intensity[i], test_curves.sigma[i])


def test_the_calibration_is_saved_as_json_and_read_back(two, test_curves, tmp_path):
    path = two.save(tmp_path / "consensus.json")
    record = json.loads(path.read_text())
    assert record["format"] == "quanta.consensus" and [e["kind"] for e in record["estimators"]] == [
        "guinier",
        "first_minimum",
    ]
    again = Consensus.load(path)
    for i in range(3):
        curve = (test_curves.q, test_curves.intensity[i], test_curves.sigma[i])
        assert again.combine(*curve) == two.combine(*curve)


def test_a_custom_estimator_is_passed_again_when_loading(calibration_curves, prior, tmp_path):
    mine = Estimator("mine", guinier_radius)
    path = Consensus.calibrate([mine], calibration_curves, calibration_curves.radius, prior).save(
        tmp_path / "mine.json"
    )
    with pytest.raises(
        UserError,
        match=r"mine.json: estimator 'mine' is a custom function; pass it as "
        r"estimators=\[Estimator\('mine', function\)\]$",
    ):
        Consensus.load(path)
    assert Consensus.load(path, estimators=[mine]).estimators == [mine]


def test_a_network_trained_on_the_fly_is_kept_beside_the_saved_calibration(
    three, test_curves, tmp_path
):
    path = three.save(tmp_path / "with-network.json")
    assert (tmp_path / "with-network-network-run").is_dir()
    assert json.loads(path.read_text())["estimators"][2]["run"] == "with-network-network-run"
    again = Consensus.load(path)
    assert isinstance(again.estimators[2], NetworkEstimator)
    curve = (test_curves.q, test_curves.intensity[4], test_curves.sigma[4])
    assert again.combine(*curve).radius == pytest.approx(three.combine(*curve).radius, rel=1e-6)


def test_the_network_refuses_a_curve_off_its_grid(network, prior):
    other = simulate_curves(2, seed=3, prior=CurvePrior(n_q=100))
    with pytest.raises(
        UserError,
        match=r"^q: the network 'network' was trained on 128 points from 0.005 to "
        r"0.5 1/A; the curve has 100 points from 0.005 to 0.5 1/A$",
    ):
        network.estimate_many(other)


def test_the_module_example_runs_as_written(tmp_path, monkeypatch, capsys):
    after = consensus_module.__doc__.split("Example", 1)[1].split("::\n", 1)[1].splitlines()
    end = next(i for i, line in enumerate(after) if line and not line.startswith("    "))
    example = "\n".join(after[:end])
    monkeypatch.chdir(tmp_path)
    exec(compile(textwrap.dedent(example), "consensus example", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("radius ") and "from guinier, first_minimum" in printed[0]
    assert COVERAGE_BAND[0] - 0.1 <= float(printed[1]) <= COVERAGE_BAND[1] + 0.1
    assert (tmp_path / "consensus.json").is_file()


def test_the_figure_shows_each_reading_and_the_test_set(two, test_curves, tmp_path):
    from quanta.consensus.figures import consensus_figure

    curve = (test_curves.q, test_curves.intensity[1], test_curves.sigma[1])
    figure = consensus_figure(
        two.combine(*curve),
        two.assess(test_curves, test_curves.radius),
        float(test_curves.radius[1]),
        two.naive(*curve),
    )
    left, right = figure.axes
    assert [t.get_text() for t in left.get_yticklabels()] == [
        "guinier",
        "first_minimum",
        "naive\n(1/sigma^2 of fit sigmas)",
        "consensus",
    ]
    assert any(
        text.get_text().startswith("consensus: RMS") for text in right.get_legend().get_texts()
    )
    figure.savefig(tmp_path / "consensus.png", dpi=60)
    assert (tmp_path / "consensus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: Consensus.calibrate(["guiner"], c, c.radius),
            r"^unknown estimator 'guiner'; did you mean 'guinier'\? "
            r"allowed: first_minimum, guinier, network$",
        ),
        (
            lambda c: Consensus.calibrate(["network"], c, c.radius),
            r"^estimators: 'network' needs a trained network; pass train_network\(prior\)",
        ),
        (lambda c: Consensus.calibrate([], c, c.radius), r"^estimators: must be a non-empty list"),
        (
            lambda c: Consensus.calibrate(["guinier", "guinier"], c, c.radius),
            r"^estimators: names must differ; 'guinier' appears more than once$",
        ),
        (
            lambda c: Consensus.calibrate(
                ["guinier"], CurveSet(c.q, c.intensity[:10], c.sigma[:10]), c.radius[:10]
            ),
            r"^curves: at least 30 calibration curves are needed; received 10$",
        ),
        (
            lambda c: Consensus.calibrate(["guinier"], c, c.radius[:5]),
            r"^truths: must be one radius in A > 0 per curve \(400\); received shape \(5,\)$",
        ),
        (
            lambda c: CurveSet(c.q, c.intensity[:, :100], c.sigma),
            r"^curves.intensity: must be \[N, n\] with n = len\(q\) = 128; "
            r"received shape \(400, 100\)$",
        ),
        (
            lambda c: CurveSet(c.q, c.intensity, np.where(c.intensity > 1, 0.0, c.sigma)),
            r"^curves.sigma: must be finite and > 0; \d+ value\(s\) are not$",
        ),
        (
            lambda c: CurvePrior(radius=(200.0, 20.0)),
            r"^prior.radius: must be \(low, high\) in A with 0 < low <= high; "
            r"received \(200.0, 20.0\)$",
        ),
        (
            lambda c: CurvePrior(polydispersity=(0.0, 0.9)),
            r"^prior.polydispersity: must be \(low, high\)",
        ),
        (
            lambda c: Estimator("x", guinier_radius).estimate(c.q, c.intensity[0, :5], c.sigma[0]),
            r"^curve: q, I and dI must have one value per point; received 128, 5 and 128$",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field(calibration_curves, call, message):
    with pytest.raises(UserError, match=message) as caught:
        call(calibration_curves)
    assert "\n" not in str(caught.value)


def test_a_curve_of_the_wrong_shape_or_grid_is_refused(two, test_curves):
    q, intensity, sigma = test_curves.q, test_curves.intensity[0], test_curves.sigma[0]
    with pytest.raises(
        UserError,
        match=r"^curve: columns q, I \(and dI\) must have equal lengths; "
        r"received q 128, I 100, dI 128$",
    ):
        two.combine(q, intensity[:100], sigma)
    with pytest.raises(
        UserError,
        match=r"^curve: q must be the calibration curves' grid \(128 points from "
        r"0.005 to 0.5 1/A\); received 100 points from 0.005 to 0.3 1/A$",
    ):
        two.combine(np.geomspace(0.005, 0.3, 100), intensity[:100], sigma[:100])
    with pytest.raises(
        UserError, match=r"^curve: column I must be one-dimensional; received shape \(2, 128\)$"
    ):
        two.combine(q, test_curves.intensity[:2], sigma)
    with pytest.raises(
        UserError, match=r"^prior: must be one of calibration, flat; received 'uniform'$"
    ):
        two.combine(q, intensity, sigma, prior="uniform")


def test_a_damaged_or_foreign_file_is_refused_naming_it(two, tmp_path):
    path = two.save(tmp_path / "c.json")
    record = json.loads(path.read_text())
    del record["calibration"]["gain"]
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match=r"c.json: a damaged consensus calibration \('gain'\)$"):
        Consensus.load(path)
    path.write_text("{}")
    with pytest.raises(UserError, match=r"c.json: not a saved consensus calibration"):
        Consensus.load(path)
    with pytest.raises(UserError, match=r"nothing.json: no such file$"):
        Consensus.load(tmp_path / "nothing.json")
