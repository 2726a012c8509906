"""MCMC fits of simulated sphere curves learn the true size, polydispersity and scale."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.inference import fit_curve
from quanta.simulators.saxs import saxs


@pytest.fixture(scope="module")
def sphere_curve():
    """One sphere curve from the saxs source: 100 q points, Schulz polydispersity 0.1, dq/q 0.05, counting noise."""
    data = saxs(view="curve", target="parameters", size=2, seed=3, shapes=("sphere",), n_q=100,
                polydispersity=0.1, dq_over_q=0.05, progress=False)
    parameters = data.arrays["parameters"][0]
    truth = {"radius": float(parameters[0]), "polydispersity": 0.1,
             "scale": float(parameters[7] * parameters[5] ** 2), "background": float(parameters[8])}
    return data.arrays["q"][0], data.arrays["intensity"][0], data.arrays["sigma"][0], truth


@pytest.fixture(scope="module")
def posterior(sphere_curve):
    q, intensity, sigma, _ = sphere_curve
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a short test chain: diagnostics are checked below
        return fit_curve(q, intensity, sigma, "sphere", walkers=10, steps=300, burn=100, seed=1, dq_over_q=0.05)


def test_the_true_parameters_lie_in_the_95_percent_intervals(posterior, sphere_curve):
    truth = sphere_curve[3]
    low, high = posterior.interval(0.95)
    median = dict(zip(posterior.names, posterior.median(), strict=True))
    for name in ("radius", "polydispersity", "scale"):
        column = posterior.names.index(name)
        assert low[column] <= truth[name] <= high[column], (name, truth[name], low[column], high[column])
    assert abs(median["radius"] / truth["radius"] - 1) < 0.01
    assert abs(median["polydispersity"] - 0.1) < 0.02
    assert abs(median["scale"] / truth["scale"] - 1) < 0.05


def test_diagnostics_are_present_and_sensible(posterior):
    summary = posterior.summary()
    assert 0.2 < summary["acceptance_fraction"] < 0.8
    assert np.all(np.isfinite(posterior.tau)) and np.all(posterior.tau > 1)
    ess = posterior.effective_samples
    assert np.allclose(ess, 10 * 200 / posterior.tau)
    assert summary["long_enough"] == bool(200 > 50 * posterior.tau.max())
    assert summary["chi2_min"] < 2 * len(posterior.q)  # the sampler found a good fit
    for name, entry in summary["parameters"].items():
        assert entry["p2.5"] <= entry["p16"] <= entry["median"] <= entry["p84"] <= entry["p97.5"], name


def test_a_short_chain_warns(sphere_curve):
    q, intensity, sigma, _ = sphere_curve
    with pytest.warns(UserWarning, match="autocorrelation times"):
        fit_curve(q, intensity, sigma, walkers=8, steps=40, seed=2, dq_over_q=0.05)


def test_without_uncertainties_counting_errors_are_assumed(sphere_curve):
    q, intensity, sigma, truth = sphere_curve
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        posterior = fit_curve(q, intensity, None, walkers=8, steps=150, seed=3, dq_over_q=0.05)
    assert posterior.sigma_assumed
    radius = posterior.median()[posterior.names.index("radius")]
    assert abs(radius / truth["radius"] - 1) < 0.02
    # the assumed errors have the size of the true counting errors
    assert 0.5 < np.median(posterior.sigma / sigma) < 2.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "sphear"}, "model: must be one of sphere, core_shell_sphere, cylinder; received 'sphear'"),
    ({"walkers": 4}, "walkers: must be an integer >= 8"),
    ({"steps": 5}, "steps: must be an integer >= 10"),
    ({"burn": 50, "steps": 20}, "burn: must be an integer in [0, steps = 20)"),
    ({"priors": {"length": (1, 2)}}, "priors: 'length' is not a parameter of sphere"),
    ({"priors": {"radius": (5, 1)}}, "priors.radius: must be finite low < high"),
    ({"dq_over_q": 0.5}, "dq_over_q: must be a relative resolution in [0, 0.2]"),
])
def test_bad_settings_give_one_line_errors(sphere_curve, kwargs, message):
    q, intensity, sigma, _ = sphere_curve
    with pytest.raises(UserError) as error:
        fit_curve(q, intensity, sigma, **kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
