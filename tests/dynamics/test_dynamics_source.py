"""The dynamics source: energy conserved, derivatives exact, the views' layout, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.errors import UserError
from quanta.simulators.dynamics import SYSTEMS, energy_drift, rollout

ALL = list(SYSTEMS)


@pytest.mark.parametrize("name", ALL)
def test_true_trajectories_conserve_energy(name):
    """Along the integrated (or exact) flow the true H changes by < 1e-8 over 40 time units."""
    system = SYSTEMS[name]
    starts = system.initial_states(np.random.default_rng(3), 40)
    path = system.evolve(starts, np.linspace(0.0, 40.0, 81))  # [40, 81, D]
    energy = system.energy(path)
    assert np.abs(energy - energy[:, :1]).max() < 1e-8
    assert np.ptp(energy[:, 0]) > 0.1  # the orbits differ in energy: a range of radii was drawn


@pytest.mark.parametrize("name", ALL)
def test_derivatives_equal_finite_differences_along_the_trajectory(name):
    dt = 0.01
    data = quanta.data.load(
        "dynamics", system=name, size=200, points_per_trajectory=50, dt=dt, noise=0.0, seed=2
    )
    state = data["state"].astype(np.float64).reshape(4, 50, -1)  # 4 trajectories of 50 states
    central = (state[:, 2:] - state[:, :-2]) / (2 * dt)  # [4, 48, D]
    derivative = data.y.reshape(4, 50, -1)[:, 1:-1]
    assert np.abs(central - derivative).max() < 2e-3 * max(1.0, np.abs(derivative).max())
    assert np.array_equal(data.x, data["state"])  # noise 0: the observed state is the true one
    assert np.array_equal(data["trajectory"], np.repeat(np.arange(4), 50))
    assert np.allclose(data["time"][:50], dt * np.arange(50))


def test_derivatives_view_layout_and_noise():
    data = quanta.data.load("dynamics", size=1000, seed=1)  # mass-spring, the paper's defaults
    assert data.x.shape == data.y.shape == (1000, 2) and data.x.dtype == data.y.dtype == np.float32
    assert data.feature_names == ["q", "p"]
    assert data.info["noise"] == 0.1 and data.info["points_per_trajectory"] == 30
    residual = data.x - data["state"]
    assert 0.09 < residual.std() < 0.11 and abs(residual.mean()) < 0.01
    # y is the exact field at the noiseless state: dq/dt = p, dp/dt = -q
    assert np.allclose(
        data.y, np.stack([data["state"][:, 1], -data["state"][:, 0]], axis=1), atol=1e-6
    )
    assert np.allclose(data["energy"], 0.5 * (data["state"] ** 2).sum(axis=1), atol=1e-6)
    # ceil(1000 / 30) = 34 trajectories, the last one cut to 10 states
    assert data["trajectory"].max() == 33 and (data["trajectory"] == 33).sum() == 10
    two = quanta.data.load("dynamics", system="two_body", size=100)
    assert two.x.shape == (100, 8) and two.info["noise"] == 0.0
    assert two.feature_names == ["x1", "y1", "x2", "y2", "px1", "py1", "px2", "py2"]


def test_trajectories_view_is_time_major_and_follows_the_true_flow():
    steps, dt = 7, 0.25
    data = quanta.data.load(
        "dynamics",
        system="pendulum",
        view="trajectories",
        size=12,
        steps=steps,
        dt=dt,
        noise=0.0,
        seed=4,
    )
    assert data.x.shape == (12, 2) and data.y.shape == (12, steps * 2)
    assert data.info["steps"] == steps and data.info["dt"] == dt and data.info["dimension"] == 2
    truth = SYSTEMS["pendulum"].evolve(data.x.astype(np.float64), dt * np.arange(1, steps + 1))
    assert np.allclose(data.y, truth.reshape(12, -1), atol=1e-5)  # q(t1), p(t1), q(t2), ...
    assert np.allclose(data.y[:, 2:4], truth[:, 1], atol=1e-5)  # the second time step
    noisy = quanta.data.load(
        "dynamics",
        system="pendulum",
        view="trajectories",
        size=400,
        steps=steps,
        dt=dt,
        noise=0.2,
        seed=4,
    )
    clean_path = SYSTEMS["pendulum"].evolve(
        noisy["state"].astype(np.float64), dt * np.arange(1, steps + 1)
    )
    assert 0.18 < (noisy.y - clean_path.reshape(400, -1)).std() < 0.22
    assert 0.18 < (noisy.x - noisy["state"]).std() < 0.22


def test_seeds():
    one = quanta.data.load("dynamics", system="pendulum", size=90, seed=5)
    again = quanta.data.load("dynamics", system="pendulum", size=90, seed=5)
    other = quanta.data.load("dynamics", system="pendulum", size=90, seed=6)
    assert all(np.array_equal(one[k], again[k]) for k in one.arrays)
    assert not np.allclose(one.x, other.x)
    # both views of a seed start from the same initial states
    trajectories = quanta.data.load(
        "dynamics", system="pendulum", view="trajectories", size=2, seed=5
    )
    assert np.array_equal(trajectories["state"][0], one["state"][0])
    assert np.array_equal(trajectories["state"][1], one["state"][45])


def test_rollout_of_the_true_field_keeps_the_energy():
    system = SYSTEMS["mass_spring"]
    path = rollout(system.vector_field, np.array([0.6, 0.0]), 0.1, 630)  # ten periods
    assert path.shape == (631, 2)
    assert np.allclose(
        path[-1], [0.6 * np.cos(63.0), -0.6 * np.sin(63.0)], atol=1e-4
    )  # RK4 phase error
    assert energy_drift("mass_spring", path) < 1e-12
    batch = rollout(system.vector_field, np.array([[0.6, 0.0], [0.0, 1.0]]), 0.1, 10)
    assert batch.shape == (2, 11, 2)
    # a field that is wrong by a little damping loses energy: its drift is large
    damped = rollout(lambda x: system.vector_field(x) - 0.01 * x, np.array([0.6, 0.0]), 0.1, 630)
    assert energy_drift("mass_spring", damped) > 1e-3


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"system": "pendulm"},
            "input should be 'mass_spring', 'pendulum' or 'two_body', received 'pendulm'",
        ),
        (
            {"view": "trajectory"},
            "input should be 'derivatives' or 'trajectories', received 'trajectory'",
        ),
        (
            {"noise": -0.1},
            "dynamics: noise must be a number >= 0, or null for the system's default; "
            "received -0.1",
        ),
        (
            {"dt": 0},
            "dynamics: dt must be a time step in (0, 100], or null for the system's default; "
            "received 0",
        ),
        ({"steps": 0}, "dynamics: steps must be an integer in [1, 10000]; received 0"),
        (
            {"size": 20, "points_per_trajectory": 30},
            "dynamics: points_per_trajectory must be an integer in [1, size = 20]; received 30",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors(params, message):
    with pytest.raises(UserError) as error:
        quanta.data.load("dynamics", **params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_energy_drift_refuses_states_of_another_system():
    with pytest.raises(
        UserError, match=r"energy_drift: states must be \[T, 8\] or \[B, T, 8\] for two_body"
    ):
        energy_drift("two_body", np.zeros((10, 2)))
    with pytest.raises(
        UserError, match="system must be one of mass_spring, pendulum, two_body; received 'spring'"
    ):
        energy_drift("spring", np.zeros((10, 2)))


def test_rollout_refuses_a_field_of_the_wrong_shape():
    with pytest.raises(
        UserError,
        match=r"rollout: the vector field must return one derivative per "
        r"coordinate, \[1, 2\] for states \[1, 2\]; received \[1\]",
    ):
        rollout(lambda x: x[:, 0], np.array([0.5, 0.0]), 0.1, 3)


@pytest.mark.parametrize("view", ["derivatives", "trajectories"])
def test_show_returns_a_figure(view):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quanta.simulators.dynamics import show

    for name in ("mass_spring", "two_body"):
        figure = show(quanta.data.load("dynamics", system=name, view=view, size=60, steps=5))
        assert isinstance(figure, matplotlib.figure.Figure) and len(figure.axes) == 3  # + colorbar
        plt.close(figure)
