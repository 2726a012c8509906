"""The report's predictive-band figures of regressions with an uncertainty: the pulls
``(y - prediction) / sigma`` against N(0, 1), and prediction ± 2σ against the true value."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.evaluate.calibration_figures import predictive_bands_figure, pull_summary, pulls_figure
from quanta.report import write_report
from tests.report.test_calibration_figures import _block, _with_uncertainty
from tests.report.test_html import write_fake_run


def test_pull_summary_reads_honest_and_overconfident_sigmas():
    """Honest sigmas: pulls of mean 0 and width 1; sigmas half the truth: width 2."""
    rng = np.random.default_rng(0)
    pulls = rng.normal(size=20_000)
    mean, mean_error, width, width_error = pull_summary(pulls, np.ones(len(pulls)))
    assert abs(mean) < 3 * mean_error and abs(width - 1) < 3 * width_error
    assert mean_error == pytest.approx(1 / np.sqrt(len(pulls)), rel=0.02)
    assert pull_summary(2 * pulls, np.ones(len(pulls)))[2] == pytest.approx(2.0, rel=0.02)
    weighted = pull_summary(np.r_[pulls, 10 + pulls], np.r_[np.ones(len(pulls)), np.zeros(len(pulls))])
    assert weighted[0] == pytest.approx(mean) and weighted[2] == pytest.approx(width)


def test_figures_draw_every_method_and_name_the_one_that_does_not_fit():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, 500)
    sigma = np.full(500, 0.1)
    methods = {"honest": (y, y + rng.normal(0, 0.1, 500), sigma),
               "overconfident": (y, y + rng.normal(0, 0.1, 500), sigma / 2, rng.random(500))}
    assert len(pulls_figure(methods).axes) == 1
    assert len(predictive_bands_figure(methods).axes) == 2  # one panel per method
    two_targets = (np.c_[y, y], np.c_[y, y], np.c_[sigma, sigma], np.ones(500))
    assert len(pulls_figure({"two": two_targets}).axes) == 1
    with pytest.raises(UserError, match="bdt: no sample has an uncertainty above zero"):
        pulls_figure({"bdt": (y, y, 0 * sigma)})
    with pytest.raises(UserError, match="bdt: true values .* differ in shape"):
        predictive_bands_figure({"bdt": (y, y, sigma[:10])})


def test_regression_report_shows_pulls_and_bands_only_of_methods_with_an_uncertainty(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", task="regression", methods=("mlp",), n=400)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Pulls" not in page and "Predictive bands" not in page  # no method has a sigma
    _with_uncertainty(run_dir, "mlp", scale=1.0)
    page = write_report(run_dir).read_text(encoding="utf-8")
    for title in ("Pulls (test split)", "Predictive bands (test split)"):
        block = _block(page, title)
        assert '<img width="' in block and "Not drawn" not in block
