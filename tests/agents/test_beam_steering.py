"""The beam-steering environment: its optics, its noise, Gymnasium's contract, its baselines, an agent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.agents.beam_steering import Beamline, BeamSteering, beam_steering, drift, thin_quad
from quanta.errors import UserError
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def quiet(**params) -> BeamSteering:
    """An environment without noise or misalignment (unless given)."""
    settings = {"noise": 0.0, "offset_scale": 0.0, "angle_scale": 0.0, "quad_offset_scale": 0.0}
    return BeamSteering(**{**settings, **params})


def play(env: BeamSteering, policy, seed: int) -> tuple[float, bool, int]:
    observation, _ = env.reset(seed=seed)
    total, steps, done, success = 0.0, 0, False, False
    while not done:
        observation, reward, success, truncated, _ = env.step(policy(observation))
        total, steps, done = total + reward, steps + 1, success or truncated
    return total, success, steps


def test_every_transfer_matrix_has_determinant_one():
    for matrix in (drift(0.7), thin_quad(1.5), thin_quad(-2.0)):
        assert np.linalg.det(matrix) == pytest.approx(1.0, abs=1e-12)
    for plane in ("x", "y"):
        line = Beamline(1.5, plane)
        for start, end in (("C1", "BPM1"), ("C1", "target"), ("C2", "target")):
            assert np.linalg.det(line.matrix(start, end)) == pytest.approx(1.0, abs=1e-12)


def test_the_target_responds_linearly_with_the_analytic_r12():
    f, env = 1.5, quiet(focal_length=1.5)
    # C2 -> drift 1 m -> QD (f = -1.5 m in x, +1.5 m in y) -> drift 2 m -> target:
    # R12 = L1 + L2 - L1 L2 / f (Wiedemann, the thin-lens doublet's matrix element)
    analytic = {0: 1 + 2 - 1 * 2 / -f, 1: 1 + 2 - 1 * 2 / f}
    # C1 -> drift 1 m -> QF (+f in x, -f in y) -> drift 1 m -> BPM1
    analytic_bpm1 = {0: 2 - 1 / f, 1: 2 + 1 / f}
    env.reset(seed=3)
    for plane in (0, 1):
        assert env.response[1, plane, 1] == pytest.approx(analytic[plane], rel=1e-12)
        assert env.response[0, plane, 0] == pytest.approx(analytic_bpm1[plane], rel=1e-12)
        assert env.response[0, plane, 1] == 0.0  # C2 is downstream of BPM1
    raise_c2_x = 1 + 2 * (1 * 2 + 0)
    moved = []
    for _ in range(3):
        env.step(raise_c2_x)
        moved.append(env.positions()[1, 0])
    assert np.allclose(moved, 0.1 * analytic[0] * np.arange(1, 4), rtol=1e-12)
    assert np.allclose(env.positions()[:, 1], 0.0) and env.positions()[0, 0] == 0.0


def test_response_and_tracking_agree_for_a_misaligned_beam():
    env = quiet()
    offsets, angles, quads = np.array([0.7, -0.4]), np.array([0.2, 0.1]), np.array([[0.3, -0.2],
                                                                                      [0.1, 0.4]])
    env.misalign(offsets, angles, quads)
    env.kicks[:] = [[0.5, -1.2], [0.9, 0.3]]  # [plane, corrector]
    for p, line in enumerate(env.lines):
        seen = line.track(offsets[p], angles[p], dict(zip(("QF", "QD"), quads[p], strict=True)),
                          {"C1": env.kicks[p, 0], "C2": env.kicks[p, 1]})
        assert env.positions()[:, p] == pytest.approx([seen["BPM1"], seen["target"]], abs=1e-12)


def test_an_aligned_beam_with_correctors_off_is_on_axis_and_on_target():
    env = quiet()
    observation, info = env.reset(seed=11)
    assert np.all(observation == 0.0) and info["distance_mm"] == 0.0
    _, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated and info["success"]
    assert reward == pytest.approx(-0.1)


def test_monitor_noise_has_the_stated_sigma():
    env = quiet(noise=0.2, max_steps=10_000)
    env.reset(seed=5)
    env.kicks[:] = 1.0  # off target: the episode goes on
    readings = np.array([env.step(0)[0][:4] for _ in range(4000)])
    truth = env.positions().reshape(-1)
    assert np.abs(readings.mean(axis=0) - truth).max() < 0.02
    assert readings.std(axis=0) == pytest.approx([0.2] * 4, rel=0.06)


def test_gymnasium_check_env_passes():
    from gymnasium.utils.env_checker import check_env

    check_env(BeamSteering(), skip_render_check=True)


def test_a_seeded_episode_reproduces_and_seeds_differ():
    actions = np.random.default_rng(0).integers(9, size=40)

    def episode(seed):
        env = BeamSteering()
        out = [env.reset(seed=seed)[0]]
        for action in actions:
            observation, reward, terminated, truncated, _ = env.step(action)
            out.append(np.append(observation, reward))
            if terminated or truncated:
                break
        return np.concatenate(out)

    assert np.array_equal(episode(42), episode(42))
    assert not np.array_equal(episode(42)[:8], episode(43)[:8])


def test_the_scripted_steering_beats_random_actions_on_the_same_seeds():
    env, rng = BeamSteering(), np.random.default_rng(1)
    scripted = [play(env, env.scripted_action, 100 + i) for i in range(60)]
    randomly = [play(env, lambda _: int(rng.integers(9)), 100 + i) for i in range(60)]
    assert np.mean([r for r, _, _ in scripted]) > np.mean([r for r, _, _ in randomly]) + 15
    assert np.mean([s for _, s, _ in scripted]) > 0.9  # it steers onto the target
    assert np.mean([s for _, s, _ in randomly]) < 0.5  # only where the beam starts near it


def test_the_source_describes_the_beamline():
    environment = beam_steering(noise=0.1, valid_episodes=4, test_episodes=6, seed=3)
    assert environment.feature_names[:4] == ["bpm1_x_mm", "bpm1_y_mm", "target_x_mm", "target_y_mm"]
    assert environment.info["noise"] == 0.1 and environment.info["action"]["n"] == 9
    assert environment.info["response_mm_per_mrad"]["x"][1][1] == pytest.approx(1 + 2 + 2 / 1.5)
    assert len(environment.parts()["test"].seeds()) == 6
    json.dumps(environment.info)  # saved with the run


def test_bad_parameters_are_refused_in_one_line():
    with pytest.raises(UserError, match=r"beam_steering: tolerance must be a number in \(0, 100\]"):
        beam_steering(tolerance=0)


EXPERIMENT = """\
name: beam
seed: 2
task: reinforcement
data: {{source: beam_steering, valid_episodes: 3, test_episodes: 30{extra}}}
methods:
  - {{name: random, agent: random}}
  - {{name: scripted, agent: scripted}}
"""


def test_random_and_scripted_through_the_command(tmp_path):
    (tmp_path / "e.yaml").write_text(EXPERIMENT.format(extra=""))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "beam").iterdir()
    scores = {name: json.loads((run / name / "metrics.json").read_text())["test"]
              for name in ("random", "scripted")}
    assert scores["scripted"]["episodes"] == 30
    assert scores["scripted"]["mean_return"] > scores["random"]["mean_return"] + 10


def test_a_bad_parameter_through_the_command_is_one_line_and_status_2(tmp_path):
    (tmp_path / "e.yaml").write_text(EXPERIMENT.format(extra=", noise: -1"))
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("quanta: error: beam_steering: noise must be a number in "
                                   "[0, 10] (mm); received -1")


@pytest.mark.slow
def test_learned_agent_beats_scripted():
    """A DQN trained for 8000 steps (about half a minute) steers in fewer steps than the script."""
    from quanta.agents.baselines import RandomPolicy, ScriptedPolicy
    from quanta.agents.dqn import DQN

    parts = beam_steering(valid_episodes=20, test_episodes=200, seed=1).parts()
    agents = {"dqn": DQN(steps=8_000, eval_every=1_000, hidden=[64, 64], learning_starts=1_000,
                         exploration_fraction=0.4, gamma=0.95, seed=1),
              "scripted": ScriptedPolicy(), "random": RandomPolicy()}
    scores = {}
    for name, agent in agents.items():
        returns = agent.fit(parts["train"], parts["valid"]).predict(parts["test"]).astype(float)
        scores[name] = (returns.mean(), returns.std(ddof=1) / np.sqrt(len(returns)))
    (dqn, dqn_error), (script, script_error) = scores["dqn"], scores["scripted"]
    assert dqn - script > 3 * np.hypot(dqn_error, script_error), scores
    assert script > scores["random"][0], scores
