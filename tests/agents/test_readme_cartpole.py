"""The README's reinforcement-learning experiment, as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from quanta.config import resolve

pytestmark = pytest.mark.usefixtures("one_thread")


def readme_experiment() -> dict:
    text = (Path(__file__).parent.parent.parent / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "source: gymnasium" in b)
    return yaml.safe_load(block)


def test_the_readme_cartpole_experiment_resolves():
    config = resolve(readme_experiment())
    assert [m.agent for m in config.methods] == ["dqn", "ppo", "random"]


@pytest.mark.slow
def test_the_readme_cartpole_experiment_reaches_the_maximum(tmp_path):
    """DQN and PPO reach CartPole-v1's 500 on the test episodes; the random policy stays near 20."""
    from quanta.experiment import run_experiment

    run = run_experiment(readme_experiment(), out=tmp_path, verbose=False, report=False)
    test = {name: metrics["test"]["mean_return"] for name, metrics in run.metrics.items()}
    assert test["dqn"] >= 475 and test["ppo"] >= 475, test
    assert test["random"] < 50, test
