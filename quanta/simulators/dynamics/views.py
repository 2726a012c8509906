"""The two views of the ``dynamics`` source: state derivatives, and trajectories from a state.

Both draw initial states from the system's distribution with one generator
and add the Gaussian observation noise with another, so the data are a
deterministic function of the parameters, and the same ``seed`` starts both
views (and every ``size``) from the same first initial states.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.dynamics.systems import System


def derivative_samples(
    system: System,
    size: int,
    points: int,
    dt: float,
    noise: float,
    initial: np.random.Generator,
    observation: np.random.Generator,
) -> dict[str, np.ndarray]:
    """``size`` states on ceil(size / points) true trajectories, ``points`` states ``dt`` apart.

    Returns ``x`` float32[N, D] (the states plus noise), ``y`` float32[N, D]
    (the exact time derivative at the noiseless state), ``state`` float32[N, D]
    (the noiseless state), ``energy`` float32[N] (its true energy),
    ``trajectory`` int64[N] and ``time`` float32[N] (which trajectory, and
    when along it). Rows run trajectory by trajectory; the last one is cut
    short when ``points`` does not divide ``size``.
    """
    trajectories = -(-size // points)
    starts = system.initial_states(initial, trajectories)  # [n, D]
    times = dt * np.arange(points)  # [P]
    states = system.evolve(starts, times).reshape(-1, system.dimension)[:size]  # [N, D]
    observed = states + noise * observation.standard_normal(states.shape)
    return {
        "x": observed.astype(np.float32),
        "y": system.vector_field(states).astype(np.float32),
        "state": states.astype(np.float32),
        "energy": system.energy(states).astype(np.float32),
        "trajectory": np.repeat(np.arange(trajectories), points)[:size].astype(np.int64),
        "time": np.tile(times, trajectories)[:size].astype(np.float32),
    }


def trajectory_samples(
    system: System,
    size: int,
    steps: int,
    dt: float,
    noise: float,
    initial: np.random.Generator,
    observation: np.random.Generator,
) -> dict[str, np.ndarray]:
    """``size`` trajectories: the observed start and the observed states at t = dt, ..., steps dt.

    Returns ``x`` float32[N, D] (the initial state plus noise), ``y``
    float32[N, steps * D] (the states at t1, t2, ... plus noise, time-major:
    the D numbers at t1, then those at t2, ...), ``state`` float32[N, D] (the
    noiseless initial state) and ``energy`` float32[N] (its true energy).
    """
    starts = system.initial_states(initial, size)  # [N, D]
    times = dt * np.arange(1, steps + 1)  # [T]
    path = system.evolve(starts, times)  # [N, T, D]
    observed_start = starts + noise * observation.standard_normal(starts.shape)
    observed_path = path + noise * observation.standard_normal(path.shape)
    return {
        "x": observed_start.astype(np.float32),
        "y": observed_path.reshape(size, steps * system.dimension).astype(np.float32),  # [N, T*D]
        "state": starts.astype(np.float32),
        "energy": system.energy(starts).astype(np.float32),
    }


__all__ = ["derivative_samples", "trajectory_samples"]
