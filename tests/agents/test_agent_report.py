"""The report of an agents' run: learning curves with their spread, test returns, the environment."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.report.agent_figures import episode_returns_figure, learning_curves_figure
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def history(values, steps=(100, 200, 300)):
    return [{"epoch": i + 1, "steps": s, "episodes": 5 * (i + 1), "train_return": v / 2,
             "returns": [v / 2] * 5, "valid_mean_return": v}
            for i, (s, v) in enumerate(zip(steps, values, strict=True))]


def test_learning_curves_show_the_mean_and_spread_over_repeats():
    from matplotlib.collections import PolyCollection

    fig = learning_curves_figure({"dqn": [history([10, 50, 90]), history([30, 70, 110])],
                                  "random": [history([20, 20, 20])]})
    valid, train = fig.axes
    lines = {line.get_label(): line for line in valid.get_lines()}
    assert set(lines) == {"dqn (mean of 2)", "random"}
    x, y = lines["dqn (mean of 2)"].get_data()
    assert x[0] == 100 and x[-1] == 300 and y[0] == pytest.approx(20) and y[-1] == pytest.approx(100)
    bands = [c for c in valid.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1  # the two trainings' spread; none for a single training
    top = bands[0].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(100 + np.std([90, 110], ddof=1))
    assert len(train.collections) == 1 + 3  # its band, and the episodes of every training as dots


def test_episode_returns_are_boxes_per_method():
    fig = episode_returns_figure({"dqn": np.array([500.0, 480, 500]), "random": np.array([20.0, 9])}, "test")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["dqn", "random"]
    assert ax.get_ylabel() == "return per test episode"


def test_the_report_of_an_agents_run_describes_the_environment(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: agents\ntask: reinforcement\n"
        "data: {source: gymnasium, env: FrozenLake-v1, max_episode_steps: 50, valid_episodes: 4, "
        "test_episodes: 6}\n"
        "methods:\n  - {name: random, agent: random, params: {steps: 300, eval_every: 100}}\n")
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "agents").iterdir()
    page = (run / "report.html").read_text()
    for text in ("Learning curves", "Episode returns (test split)", "FrozenLake-v1 (source gymnasium)",
                 "Discrete(16)", "50 steps", "valid 4 (at every evaluation), test 6",
                 "Training of each method", "agent random"):
        assert text in page, text
    assert "metrics weighted" not in page and "Inputs of each method" not in page
    assert (run / "figures" / "learning_curves.png").exists()
