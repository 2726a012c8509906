"""Bad input to quanta.bayesopt.optimise gets a one-line UserError naming the field."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from quanta.bayesopt import optimise
from quanta.errors import UserError

pytest.importorskip("botorch")


def square(x: np.ndarray) -> float:
    return float((x**2).sum())


@pytest.mark.parametrize(
    ("bounds", "options", "message"),
    [
        ([0.0, 1.0], {}, r"^bounds: must have shape \[d, 2\] .*received shape \[2\]$"),
        (
            [[0.0, 1.0], [2.0, 2.0]],
            {},
            r"^bounds\[1\]: must be finite with low < high; received \[2.0, 2.0\]$",
        ),
        ([["a", 1.0]], {}, r"^bounds: must be \[\[low, high\], ...\] numbers"),
        (
            [[0.0, 1.0]],
            {"evaluations": 2},
            r"^evaluations: must be at least the 3 points of the initial design; received 2$",
        ),
        (
            [[0.0, 1.0]],
            {"acquisition": "eii"},
            r"^unknown acquisition 'eii'; did you mean 'ei'\? allowed: ei, max_variance, ucb$",
        ),
        ([[0.0, 1.0]], {"batch": 0}, r"^batch: must be an integer >= 1; received 0$"),
        ([[0.0, 1.0]], {"beta": -1.0}, r"^beta: must be a finite number > 0; received -1.0$"),
        (
            [[0.0, 1.0]],
            {"noise": float("nan")},
            r"^noise: must be a finite number > 0; received nan$",
        ),
        ([[0.0, 1.0]], {"resume": True}, r"^resume: needs the log"),
    ],
)
def test_bad_settings_get_one_line_errors(bounds, options, message):
    with pytest.raises(UserError, match=message) as error:
        optimise(square, bounds, **{"evaluations": 5, **options})
    assert "\n" not in str(error.value)


def test_a_function_returning_nan_is_named_with_the_point():
    with pytest.raises(
        UserError, match=r"^function: returned nan at \[.*\]; it must return a finite number$"
    ):
        optimise(lambda x: float("nan"), [[0.0, 1.0]], evaluations=4)


def test_a_function_returning_several_numbers_is_refused():
    with pytest.raises(
        UserError, match=r"^function: must return one finite number; at \[.*\] it returned"
    ):
        optimise(lambda x: [1.0, 2.0], [[0.0, 1.0]], evaluations=4)


def test_resuming_a_missing_log_says_there_is_nothing_to_resume(tmp_path):
    with pytest.raises(UserError, match="does not exist; there is nothing to resume"):
        optimise(square, [[0.0, 1.0]], evaluations=4, log=tmp_path / "none.jsonl", resume=True)


def test_a_missing_botorch_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "botorch", None)  # import botorch fails
    with pytest.raises(UserError, match=r"pip install 'quanta\[bayes\]'$"):
        optimise(square, [[0.0, 1.0]], evaluations=4)
