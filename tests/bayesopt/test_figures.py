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
