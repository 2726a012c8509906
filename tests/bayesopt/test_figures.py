"""The figure after each step: one PNG per acquired step, surrogate above, acquisition below."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.bayesopt import optimise

pytest.importorskip("botorch")
pytest.importorskip("matplotlib")


def test_one_figure_per_acquired_step_with_a_slice_per_parameter(tmp_path):
    folder = tmp_path / "steps"
    seen = []
    result = optimise(
        lambda x: float(np.sin(6 * x).sum()),
        [[0.0, 1.0], [-1.0, 1.0]],
        evaluations=7,
        initial=3,
        batch=2,
        seed=0,
        figures=folder,
        callback=lambda so_far, record: seen.append((len(so_far.values), record)),
    )
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"step_{k:03d}.png" for k in range(1, len(result.steps))]
    assert all((folder / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    # the callback sees each step with the evaluations so far
    assert [n for n, _ in seen] == [3, 5, 7]
    assert [r.indices for _, r in seen] == [(0, 1, 2), (3, 4), (5, 6)]
    assert seen[0][1].acquisition_value is None and seen[1][1].acquisition_value is not None


def test_two_parameters_are_shown_as_maps_of_mean_sigma_and_acquisition(tmp_path):
    """Branin-like in two parameters: the step figure is three filled contour maps over the box,
    every evaluation on each and the chosen points on the acquisition's."""
    import matplotlib

    from quanta.bayesopt.acquisition import build_acquisition
    from quanta.bayesopt.figures import step_figure
    from quanta.bayesopt.surrogate import fit_surrogate

    box = np.array([[-5.0, 10.0], [0.0, 15.0]])
    result = optimise(lambda x: float((x[1] - 0.13 * x[0] ** 2 + 1.6 * x[0] - 6) ** 2),
                      box, evaluations=8, initial=5, seed=1)
    model = fit_surrogate(result.points, -result.values, box, None, 0)
    single = build_acquisition("ei", model, float((-result.values).max()), 4.0, 0)
    chosen = np.array([[2.0, 3.0], [7.0, 12.0]])
    figure = step_figure(model, single, box, result, chosen, 3, "ei")
    maps = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in maps] == [
        "surrogate mean", r"surrogate $\sigma$", "log expected improvement"]
    for axis in maps:
        assert any(isinstance(c, matplotlib.contour.QuadContourSet) for c in axis.collections) or \
            axis.collections, axis.get_title()
        x_lo, x_hi = axis.get_xlim()
        assert x_lo <= -5.0 + 1e-9 and x_hi >= 10.0 - 1e-9
    marked = maps[2].lines[-1].get_xydata()
    assert np.allclose(marked, chosen)
    figure.savefig(tmp_path / "map.png", dpi=80)
    assert (tmp_path / "map.png").stat().st_size > 10_000
