"""Agents through the runner: a run, its saved agents, exact resume, repeats and one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

BOUNDS = "[[-2.4, 2.4], [-3, 3], [-0.21, 0.21], [-3.5, 3.5]]"
EXPERIMENT = f"""\
name: agents
seed: 5
task: reinforcement
data: {{source: gymnasium, env: CartPole-v1, valid_episodes: 3, test_episodes: 8}}
methods:
  - {{name: dqn, agent: dqn, params: {{steps: 900, eval_every: 300, hidden: [32], learning_starts: 200,
      batch_size: 32}}}}
  - {{name: tq, agent: tabular_q, params: {{steps: 1500, eval_every: 500, bins: 4, bounds: {BOUNDS}}}}}
  - {{name: random, agent: random, params: {{steps: 300, eval_every: 150}}}}
"""
TIMINGS = ("seconds",)


def the_run(out):
    (run,) = (out / "agents").iterdir()
    return run


def outcome(run) -> dict:
    """Everything a run computed, timings left out."""
    result = {}
    for name in ("dqn", "tq", "random"):
        with np.load(run / name / "predictions.npz") as archive:
            result[f"{name}/predictions"] = {k: archive[k].tobytes() for k in archive.files}
        metrics = json.loads((run / name / "metrics.json").read_text())
        metrics.pop("seconds")
        result[f"{name}/metrics"] = metrics
        history = [json.loads(line) for line in (run / name / "history.jsonl").read_text().splitlines()]
        result[f"{name}/history"] = [{k: v for k, v in r.items() if k not in TIMINGS} for r in history]
    return result


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    folder = tmp_path_factory.mktemp("agents")
    (folder / "e.yaml").write_text(EXPERIMENT)
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, the_run(folder / "out"), done


def test_an_agent_run_scores_every_agent_on_the_test_episodes(whole):
    folder, run, done = whole
    assert "episodes: train as many as each agent plays, valid 3, test 8" in done.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    for name in ("dqn", "tq", "random"):
        test = metrics[name]["test"]
        assert test["episodes"] == 8 and test["min_return"] <= test["mean_return"] <= test["max_return"]
        with np.load(run / name / "predictions.npz") as saved:
            assert saved["test_score"].shape == (8,) and "test_y" not in saved.files
            assert test["mean_return"] == pytest.approx(saved["test_score"].mean())
    history = [json.loads(line) for line in (run / "dqn" / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3] and history[-1]["steps"] >= 900
    assert {"valid_mean_return", "train_return", "returns", "epsilon", "loss"} <= set(history[0])
    page = (run / "report.html").read_text()
    assert "Learning curves" in page and "Episode returns (test split)" in page
    assert "TEST — 8 episodes".lower() in page.lower()
    assert "Training history" not in page  # losses of networks: none here


def test_a_saved_agent_plays_the_test_episodes_as_it_did_in_the_run(whole):
    import quanta
    from quanta.agents.base import Agent
    from quanta.agents.environment import gymnasium

    folder, run, _ = whole
    loaded = quanta.load_run(run, method="dqn").estimator
    again = Agent.load(run / "tq")
    test = gymnasium(env="CartPole-v1", valid_episodes=3, test_episodes=8, seed=5).parts()["test"]
    for agent, name in ((loaded, "dqn"), (again, "tq")):
        with np.load(run / name / "predictions.npz") as saved:
            assert np.array_equal(agent.predict(test), saved["test_score"]), name
    assert loaded.hidden == [32] and loaded.history[-1]["steps"] >= 900


class StopAt:
    """Pre-empts the run at the end of the tabular agent's second evaluation."""

    def on_fit_start(self, estimator):
        pass

    def on_epoch_end(self, estimator, epoch, record):
        from quanta.train.preemption import Preempted

        if estimator.name == "tabular_q" and epoch == 2:
            raise Preempted("SIGTERM")

    def on_fit_end(self, estimator):
        pass


def test_a_preempted_agent_run_resumes_to_the_uninterrupted_result(whole, tmp_path):
    from quanta.experiment import run_experiment
    from quanta.train.preemption import Preempted

    folder, run, _ = whole
    with pytest.raises(Preempted):
        run_experiment(str(folder / "e.yaml"), out=tmp_path, callbacks=[StopAt()], verbose=False,
                       report=False)
    stopped = the_run(tmp_path)
    assert (stopped / "dqn" / "agent.safetensors").exists()  # finished before the stop: kept
    assert (stopped / "tq" / "checkpoint.safetensors").exists()
    assert not (stopped / "tq" / "metrics.json").exists()
    run_experiment(str(folder / "e.yaml"), resume=stopped, verbose=False, report=False)
    assert outcome(stopped) == outcome(run)


def test_repeated_agents_give_their_spread(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: agents\ntask: reinforcement\nrepeat: 2\n"
        "data: {source: gymnasium, env: CartPole-v1, valid_episodes: 2, test_episodes: 4}\n"
        "methods:\n  - {name: random, agent: random, params: {steps: 200, eval_every: 100}}\n")
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = the_run(tmp_path / "out")
    record = json.loads((run / "repeats.json").read_text())
    spread = record["methods"]["random"]["metrics"]["test"]["mean_return"]
    assert len(spread["values"]) == 2 and spread["values"][0] != spread["values"][1]  # reseeded
    assert (run / "repeats" / "1" / "random" / "history.jsonl").exists()
    assert "With repeated trainings the line is the mean" in (run / "report.html").read_text()


BAD = {
    "unknown agent": ("{name: q, agent: dqm}", "methods[0].agent: unknown agent 'dqm'; did you mean 'dqn'?"),
    "agent with train": ("{name: q, agent: dqn, train: {epochs: 3}}",
                         "methods[0].train: training options apply to networks ('model:'), not to "
                         "agent 'dqn'; set its params (steps, ...) instead"),
    "network on an environment": ("{name: net, model: mlp}",
                                  "net: model mlp learns from a data set; an environment's experiment "
                                  "takes agents"),
    "box actions for dqn": ("{name: q, agent: dqn}",
                            "q: agent dqn takes discrete actions, and environment 'Pendulum-v1' has "
                            "box actions; choose an agent for box actions"),
    "unknown environment": ("{name: q, agent: dqn}",
                            "data.env: unknown Gymnasium environment 'CartPole-v2'; did you mean "
                            "'CartPole-v1'?"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_agent_configurations_get_one_line(case, tmp_path):
    entry, message = BAD[case]
    env = {"box actions for dqn": "Pendulum-v1", "unknown environment": "CartPole-v2"}.get(case, "CartPole-v1")
    (tmp_path / "e.yaml").write_text(f"name: bad\ntask: reinforcement\ndata: {{source: gymnasium, env: {env}}}\n"
                                     f"methods:\n  - {entry}\n")
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert message in line, line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("metrics.json"))


def test_predict_and_export_of_an_agent_run_are_refused_in_one_line(whole, tmp_path):
    folder, run, _ = whole
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    done = quanta_here("predict", str(run), str(tmp_path / "new.csv"), "--out", str(tmp_path / "s.csv"),
                       cwd=tmp_path)
    assert done.returncode == 2 and "methods are reinforcement-learning agents" in done.stderr
    done = quanta_here("export", str(run), "--out", str(tmp_path / "x"), cwd=tmp_path)
    assert done.returncode == 2 and "a reinforcement-learning agent is kept as" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
