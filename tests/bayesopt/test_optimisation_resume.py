"""An interrupted optimisation resumes from its log with the same points as an uninterrupted one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.bayesopt import optimise
from quanta.errors import UserError

pytest.importorskip("botorch")

BOX = [[-1.0, 2.0], [0.0, 1.0]]


def bowl(x: np.ndarray) -> float:
    """A smooth 2-D function with its minimum at (0.5, 0.3)."""
    return float((x[0] - 0.5) ** 2 + 2.0 * (x[1] - 0.3) ** 2)


class Interrupted(Exception):
    """Stands for a kill of the process."""


def test_resume_after_an_interruption_mid_batch_gives_the_uninterrupted_points(tmp_path):
    settings = {"evaluations": 11, "batch": 2, "seed": 4}
    whole = optimise(bowl, BOX, **settings)
    calls = []

    def dies_mid_batch(x: np.ndarray) -> float:
        calls.append(x)
        if len(calls) == 9:  # 5 Sobol points, a batch of 2, then the second point of the next batch
            raise Interrupted
        return bowl(x)

    log = tmp_path / "evaluations.jsonl"
    with pytest.raises(Interrupted):
        optimise(dies_mid_batch, BOX, log=log, **settings)
    assert len(log.read_text().splitlines()) == 1 + 8  # settings, then 8 evaluations

    again = []
    resumed = optimise(lambda x: again.append(x) or bowl(x), BOX, log=log, resume=True, **settings)
    np.testing.assert_allclose(resumed.points, whole.points, rtol=0, atol=1e-9)
    np.testing.assert_allclose(resumed.values, whole.values, rtol=0, atol=1e-12)
    assert len(again) == 11 - 8  # logged evaluations are not repeated
    assert [s.indices for s in resumed.steps] == [s.indices for s in whole.steps]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["index"] for line in lines[1:]] == list(range(11))


def test_resume_refuses_a_log_written_with_other_settings(tmp_path):
    log = tmp_path / "evaluations.jsonl"
    optimise(bowl, BOX, evaluations=5, seed=0, log=log)
    with pytest.raises(UserError, match=r"^log: .* was written with seed=0, not 1"):
        optimise(bowl, BOX, evaluations=6, seed=1, log=log, resume=True)


def test_a_new_optimisation_never_overwrites_a_log(tmp_path):
    log = tmp_path / "evaluations.jsonl"
    log.write_text("precious\n")
    with pytest.raises(UserError, match="already exists; pass resume=True"):
        optimise(bowl, BOX, evaluations=5, log=log)
    assert log.read_text() == "precious\n"
