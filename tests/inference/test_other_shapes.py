"""Core-shell spheres and cylinders: the fit learns their extra geometric parameters too."""

from __future__ import annotations

import warnings

import pytest

from quanta.inference import fit_curve
from quanta.simulators.saxs import saxs


def _fitted(shape: str, row: int, walkers: int, steps: int) -> tuple[dict, dict]:
    data = saxs(view="curve", target="parameters", size=3, seed=4, shapes=(shape,), n_q=80, dq_over_q=0.0,
                flux=1e6, polydispersity=0.1, progress=False)
    p = data.arrays["parameters"][row]
    truth = {"radius": p[0], "length": p[1], "shell_thickness": p[3], "scale": p[7] * p[5] ** 2,
             "shell_contrast_ratio": p[6] / p[5], "polydispersity": 0.1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short chains: only the recovered values are tested
        posterior = fit_curve(data.arrays["q"][row], data.arrays["intensity"][row], data.arrays["sigma"][row],
                              shape, walkers=walkers, steps=steps, seed=row)
    return dict(zip(posterior.names, posterior.median(), strict=True)), truth


def test_a_core_shell_sphere_is_recovered():
    median, truth = _fitted("core_shell_sphere", 0, walkers=14, steps=60)
    for name in ("radius", "shell_thickness", "shell_contrast_ratio", "scale"):
        assert abs(median[name] / truth[name] - 1) < 0.03, (name, median[name], truth[name])
    assert abs(median["polydispersity"] - 0.1) < 0.02


@pytest.mark.slow
def test_a_cylinder_is_recovered():
    """About 30 s: an orientation-averaged rod costs ~10-500 ms per evaluation in sasmodels."""
    median, truth = _fitted("cylinder", 1, walkers=10, steps=30)
    for name in ("radius", "length", "scale"):
        assert abs(median[name] / truth[name] - 1) < 0.03, (name, median[name], truth[name])
