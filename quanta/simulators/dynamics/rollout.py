"""Roll-outs of a vector field and the drift of the true energy along them.

A network that predicts time derivatives defines a dynamical system; to use
it as a simulator one integrates it from an initial state. Whether it has
learned the physics shows in the long run: a plain network's small errors add
up and its orbits spiral in or out, while a Hamiltonian neural network
conserves its learned energy exactly, so its orbits stay closed. The measure
of Greydanus et al. (2019) is the "energy MSE": the mean squared deviation of
the true energy along the roll-out from its value at the start.

The integrator is the classical fourth-order Runge-Kutta method with a fixed
step (the paper integrates with SciPy's adaptive RK45 instead): its own energy
error for the true mass-spring field, ~1e-7 per period at dt = 0.1, is far
below what the networks reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from quanta.errors import UserError
from quanta.simulators.dynamics.systems import System
from quanta.simulators.dynamics.systems import system as named_system


def rollout(
    vector_field: Callable[[np.ndarray], Any], x0: np.ndarray, dt: float, steps: int
) -> np.ndarray:
    """States along the flow of ``vector_field`` from ``x0``, by ``steps`` RK4 steps of ``dt``.

    Args:
        vector_field: any callable taking states ``[B, D]`` and returning their
            time derivatives ``[B, D]`` (an array or anything ``np.asarray``
            reads): a system's ``vector_field``, or a fitted run's ``predict``
            on the ``derivatives`` view.
        x0: initial states ``[D]`` or ``[B, D]``.
        dt: time step (> 0), in the units of the data.
        steps: number of steps (>= 1).

    Returns:
        float64 ``[steps + 1, D]`` for one initial state, ``[B, steps + 1, D]``
        for a batch: the initial states first, then those at t = dt, 2 dt, ...
        The batch is integrated together, one field call per RK4 stage.
    """
    start = np.asarray(x0, dtype=np.float64)
    if start.ndim not in (1, 2):
        raise UserError(
            f"rollout: x0 must be one state [D] or a batch [B, D]; received shape {start.shape}"
        )
    if not (np.isfinite(dt) and dt > 0):
        raise UserError(f"rollout: dt must be a number > 0; received {dt!r}")
    if int(steps) != steps or steps < 1:
        raise UserError(f"rollout: steps must be an integer >= 1; received {steps!r}")
    states = np.atleast_2d(start)  # [B, D]

    def field(x: np.ndarray) -> np.ndarray:
        derivative = np.asarray(vector_field(x), dtype=np.float64)
        if derivative.size != x.size:
            raise UserError(
                f"rollout: the vector field must return one derivative per coordinate, "
                f"{list(x.shape)} for states {list(x.shape)}; received {list(derivative.shape)}"
            )
        return derivative.reshape(x.shape)

    path = np.empty((states.shape[0], int(steps) + 1, states.shape[1]))  # [B, T+1, D]
    path[:, 0] = states
    x = states
    for step in range(1, int(steps) + 1):
        k1 = field(x)
        k2 = field(x + 0.5 * dt * k1)
        k3 = field(x + 0.5 * dt * k2)
        k4 = field(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        path[:, step] = x
    return path[0] if start.ndim == 1 else path


def energy_drift(system: str | System, states: np.ndarray) -> float:
    """The paper's energy MSE: mean over time (and trajectories) of (H(x_t) - H(x_0))^2.

    Args:
        system: a system name (``mass_spring``, ``pendulum``, ``two_body``) or a
            :class:`~quanta.simulators.dynamics.systems.System`, whose true
            Hamiltonian H is used.
        states: a roll-out ``[T, D]`` or a batch of them ``[B, T, D]`` (as
            :func:`rollout` returns), the initial state first.

    Returns:
        the mean squared deviation, in units of energy squared; a trajectory
        that left the region where H is finite (e.g. a collapsed orbit) gives inf.
    """
    chosen = named_system(system)
    path = np.asarray(states, dtype=np.float64)
    if path.ndim not in (2, 3) or path.shape[-1] != chosen.dimension:
        raise UserError(
            f"energy_drift: states must be [T, {chosen.dimension}] or [B, T, {chosen.dimension}] "
            f"for {chosen.name}; received shape {path.shape}"
        )
    with np.errstate(all="ignore"):
        energy = chosen.energy(path)  # [..., T]
        deviation = (energy - energy[..., :1]) ** 2
        value = float(np.mean(deviation))
    return value if np.isfinite(value) else float("inf")


def energy_drift_of(
    run: Any,
    system: str | System,
    trajectories: int = 16,
    steps: int = 1000,
    dt: float | None = None,
    seed: int = 0,
) -> float:
    """Energy MSE of a fitted run used as a simulator: roll-outs of ``run.predict``.

    ``trajectories`` initial states are drawn (noiseless) from the system's
    distribution with ``seed`` and integrated together by :func:`rollout` for
    ``steps`` steps of ``dt`` (default: the system's sampling interval), the
    run's predicted derivatives as the vector field; the result is
    :func:`energy_drift` of the true Hamiltonian along them.

    Args:
        run: a fitted run (``quanta.fit``, ``quanta.load_run``) trained on the
            ``derivatives`` view of this system, or anything with a
            ``predict(states [B, D]) -> derivatives [B, D]`` method.
        system: the system's name or the System.
        trajectories: number of roll-outs (>= 1).
        steps: RK4 steps per roll-out (>= 1).
        dt: time step; None: the system's ``dt``.
        seed: seeds the initial states.
    """
    chosen = named_system(system)
    if int(trajectories) != trajectories or trajectories < 1:
        raise UserError(
            f"energy_drift_of: trajectories must be an integer >= 1; received {trajectories!r}"
        )
    starts = chosen.initial_states(
        np.random.default_rng([int(seed), 7]), int(trajectories)
    )  # [B, D]

    def predicted(states: np.ndarray) -> np.ndarray:
        return run.predict(states.astype(np.float32))

    path = rollout(predicted, starts, chosen.dt if dt is None else dt, steps)
    return energy_drift(chosen, path)


__all__ = ["energy_drift", "energy_drift_of", "rollout"]
