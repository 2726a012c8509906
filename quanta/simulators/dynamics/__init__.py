"""Hamiltonian dynamics: observed states of a mass-spring, a pendulum and two gravitating bodies.

The public entry point is :func:`dynamics`, the data of the Hamiltonian
neural network (``quanta.models.hamiltonian``, Greydanus et al. 2019) and of
neural ODEs. Files: ``systems`` (each system's Hamiltonian, exact vector
field, initial states and true flow), ``views`` (the derivatives and
trajectories views), ``rollout`` (integrating any vector field, a fitted
run's included, and the drift of the true energy along the result).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached
from quanta.simulators.dynamics.rollout import energy_drift, energy_drift_of, rollout
from quanta.simulators.dynamics.systems import SYSTEMS, System, system
from quanta.simulators.dynamics.views import derivative_samples, trajectory_samples

VIEWS = ("derivatives", "trajectories")
GENERATOR_VERSION = 1  # raise when the generated numbers change (it keys the cache)
NOISE = "a number >= 0, or null for the system's default"
POINTS = "an integer >= 1, or null for the system's default"
STEP = "a time step in (0, 100], or null for the system's default"


@checked
def dynamics(
    system: Literal["mass_spring", "pendulum", "two_body"] = "mass_spring",
    view: Literal["derivatives", "trajectories"] = "derivatives",
    size: Annotated[int, Field(ge=1, description="an integer >= 1")] = 1500,
    seed: Annotated[int, Field(description="an integer")] = 1,
    noise: Annotated[float | None, Field(ge=0, allow_inf_nan=False, description=NOISE)] = None,
    points_per_trajectory: Annotated[int | None, Field(ge=1, description=POINTS)] = None,
    steps: Annotated[int, Field(ge=1, le=10_000, description="an integer in [1, 10000]")] = 30,
    dt: Annotated[float | None, Field(gt=0, le=100, allow_inf_nan=False, description=STEP)] = None,
) -> Dataset:
    """Hamiltonian dynamics: mass-spring, pendulum, two-body orbits; derivatives or trajectories

    Three systems of Greydanus, Dzamba and Yosinski (2019), with the
    constants and initial-state distributions of their released code (see
    :mod:`quanta.simulators.dynamics.systems`; quantities in the natural units
    of each Hamiltonian):

    ``mass_spring``: H = q^2/2 + p^2/2 (k = m = 1), D = 2;
    ``pendulum``: H = 3 (1 - cos q) + p^2 (m = 1/2, l = 1, g = 3), D = 2;
    ``two_body``: H = |p1|^2/2 + |p2|^2/2 - 1/|q1 - q2| (G = m = 1), D = 8;

    defaults of ``noise``, ``dt`` and ``points_per_trajectory`` (the paper's):
    0.1, 0.1, 30 (mass-spring); 0.1, 1/15, 45 (pendulum); 0, 0.4, 50 (two
    bodies). Initial states: mass-spring and pendulum at a phase-space radius
    uniform in [0.1, 1] and [1.3, 2.3] at a uniform angle; two bodies opposite
    each other at a distance uniform in [0.5, 1.5] from their centre of mass,
    with 1 + 0.05 N(0, 1) times the speed of a circular orbit. True trajectories: the exact solution
    (mass-spring), SciPy's DOP853 at tolerances 1e-11 (the others), so the
    true energy stays constant to ~1e-9 along them.

    Views (``x`` and ``y`` float32, states laid out ``(q..., p...)``; feature
    names ``q, p`` or ``x1, y1, x2, y2, px1, py1, px2, py2``):
        ``derivatives`` (default) - ``x[N, D]``: the observed state (true state
            plus Gaussian noise of standard deviation ``noise`` on every
            coordinate); ``y[N, D]``: its time derivative (dq/dt, dp/dt),
            exact at the noiseless state, as in the paper's code (the noise is
            in the inputs only). N = ``size`` states, ``points_per_trajectory``
            of them ``dt`` apart (from t = 0) along each of ceil(size /
            points_per_trajectory) trajectories, the last one cut short when
            the division is not exact. Extra arrays: ``state`` float32[N, D]
            (noiseless), ``energy`` float32[N] (true H), ``trajectory``
            int64[N] and ``time`` float32[N]. The target of task
            ``regression``, for model ``hnn`` and its baseline ``mlp``. (Rows
            of one trajectory may land in different splits.) Measured on 1000
            mass-spring samples: both fit the derivatives to the noise floor
            (test MSE ~0.01), but 400 RK4 steps of 0.25 of their predictions
            (``energy_drift_of``) give an energy MSE of 1.2e-4 (hnn) against
            5.0e-2 (mlp).
        ``trajectories`` - ``x[N, D]``: the observed initial state of each of
            N = ``size`` trajectories; ``y[N, T * D]``: the observed states at
            t = dt, 2 dt, ..., T dt with T = ``steps``, time-major (the D
            numbers at t1, then those at t2, ...), the same noise on every
            number. Extra arrays: ``state`` float32[N, D] (the noiseless
            initial state) and ``energy`` float32[N]. ``info`` records
            ``steps``, ``dt`` and ``dimension``. For neural ODEs.

    Args:
        system: ``mass_spring``, ``pendulum`` or ``two_body``.
        view: ``derivatives`` or ``trajectories`` (see Views).
        size: number of samples: states (derivatives) or trajectories.
        seed: seeds everything; the data is a deterministic function of the
            parameters (initial states and noise come from separate streams,
            so both views of one seed start from the same states).
        noise: observation noise, standard deviation per coordinate; null:
            the system's default.
        points_per_trajectory: derivatives: states per trajectory, at most
            ``size``; null: the system's default.
        steps: trajectories: recorded states after the initial one, T.
        dt: time between recorded states; null: the system's default.

    Generation takes about a second at the defaults (the integration cost grows
    with the number of trajectories and their duration); pendulum and two-body
    data are cached per parameter set in ``$QUANTA_CACHE``, the mass-spring's
    exact solution is recomputed.

    Reference:
        S. Greydanus, M. Dzamba and J. Yosinski, "Hamiltonian neural
        networks", NeurIPS 2019, arXiv:1906.01563.
    """
    chosen = SYSTEMS[system]
    noise = chosen.noise if noise is None else float(noise)
    dt = chosen.dt if dt is None else float(dt)
    points = chosen.points if points_per_trajectory is None else int(points_per_trajectory)
    index = list(SYSTEMS).index(system)
    initial = np.random.default_rng([int(seed), index, 0])
    observation = np.random.default_rng([int(seed), index, 1])
    info: dict[str, Any] = {
        "system": system,
        "view": view,
        "size": size,
        "seed": seed,
        "noise": noise,
        "dt": dt,
        "dimension": chosen.dimension,
    }
    if view == "derivatives":
        if points > size:
            raise bad_param(
                "dynamics", "points_per_trajectory", f"an integer in [1, size = {size}]", points
            )
        info["points_per_trajectory"] = points
    else:
        info["steps"] = steps

    def generate() -> dict[str, np.ndarray]:
        if view == "derivatives":
            return derivative_samples(chosen, size, points, dt, noise, initial, observation)
        return trajectory_samples(chosen, size, steps, dt, noise, initial, observation)

    # the mass-spring's exact solution is cheaper than reading a file; the others are integrated
    arrays = (
        generate()
        if system == "mass_spring"
        else cached("dynamics", {"version": GENERATOR_VERSION, **info}, generate)
    )
    return Dataset(
        arrays=arrays, name="dynamics", feature_names=list(chosen.feature_names), info=info
    )


def show(data: Dataset):
    """Figure of a dynamics data set: observed states in phase space coloured by true energy, and
    the true energy along time (derivatives) or a few observed trajectories (trajectories)."""
    import matplotlib.pyplot as plt

    d = data.info.get("dimension", data.x.shape[1])
    names = data.feature_names or [f"s{i}" for i in range(d)]
    q, p = (0, d // 2) if d == 2 else (0, 1)  # (q, p) for one degree of freedom, else (x1, y1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    shown = slice(0, min(len(data), 3000))
    points = left.scatter(
        data.x[shown, q], data.x[shown, p], c=data["energy"][shown], s=4, cmap="viridis"
    )
    fig.colorbar(points, ax=left, label="true energy H")
    left.set_xlabel(names[q])
    left.set_ylabel(names[p])
    left.set_title("observed states, coloured by their true energy", fontsize=9)
    if data.info.get("view") == "trajectories":
        steps = data.info.get("steps", data.y.shape[1] // d)
        path = data.y.reshape(len(data), steps, d)
        for i in range(min(len(data), 5)):
            right.plot(
                np.r_[data.x[i, q], path[i, :, q]], np.r_[data.x[i, p], path[i, :, p]], ".-", lw=0.8
            )
        right.set_xlabel(names[q])
        right.set_ylabel(names[p])
        right.set_title(
            f"{min(len(data), 5)} observed trajectories, {steps} steps of {data.info.get('dt'):g}",
            fontsize=9,
        )
    else:
        right.scatter(data["time"][shown], data["energy"][shown], s=3)
        right.set_xlabel("time along the trajectory")
        right.set_ylabel("true energy H")
    fig.suptitle(
        f"dynamics: {data.info.get('system')}, {len(data):,} samples, "
        f"noise {data.info.get('noise')}",
        fontsize=10,
    )
    return fig


__all__ = [
    "SYSTEMS",
    "VIEWS",
    "System",
    "dynamics",
    "energy_drift",
    "energy_drift_of",
    "rollout",
    "show",
    "system",
]
