"""The Hamiltonian systems of Greydanus, Dzamba and Yosinski (2019): their energies and flows.

Each system knows its true Hamiltonian (:meth:`System.energy`), its exact
vector field ``(dq/dt, dp/dt) = (dH/dp, -dH/dq)`` (:meth:`System.vector_field`),
the seeded distribution of initial states the paper trains on
(:meth:`System.initial_states`) and how to move states along the true flow
(:meth:`System.evolve`): the exact solution for the mass-spring, SciPy's
``solve_ivp`` (DOP853, relative and absolute tolerance 1e-11) for the others.
States are ``[..., D]`` arrays laid out ``(q..., p...)``; time, lengths,
masses and energies are in the natural units of each Hamiltonian (all
constants 1 or the paper's numbers), so they carry no physical unit.

Reference:
    S. Greydanus, M. Dzamba and J. Yosinski, "Hamiltonian neural networks",
    NeurIPS 2019, arXiv:1906.01563 (systems, constants and initial states as
    in its released code, github.com/greydanus/hamiltonian-nn).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import ndtri

from quanta.errors import UserError, closest

#: tolerances of solve_ivp for the systems without a closed-form solution
TOLERANCE = 1e-11
#: trajectories integrated together as one ODE system (solve_ivp's error norm is an average over
#: all components, so groups of this size keep each trajectory's energy error below ~5e-9)
GROUP = 256


class System(ABC):
    """A Hamiltonian system: energy, vector field, initial states and the true flow.

    Subclasses set ``name``, ``feature_names`` (``q`` names, then ``p``
    names) and the paper's sampling defaults: ``noise`` (observation noise
    per coordinate), ``dt`` (time between recorded states) and ``points``
    (recorded states per trajectory).
    """

    name: str
    feature_names: tuple[str, ...]
    noise: float
    dt: float
    points: int

    @property
    def dimension(self) -> int:
        """D, the number of phase-space coordinates (q and p together)."""
        return len(self.feature_names)

    @abstractmethod
    def energy(self, states: np.ndarray) -> np.ndarray:
        """The true Hamiltonian H of ``states`` [..., D] -> [...]."""

    @abstractmethod
    def vector_field(self, states: np.ndarray) -> np.ndarray:
        """The exact time derivative (dH/dp, -dH/dq) of ``states`` [..., D] -> [..., D]."""

    @abstractmethod
    def initial_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` initial states float64[n, D] drawn from the paper's distribution.

        Each state takes its own row of random numbers, so the first states
        drawn with one generator do not depend on ``n``.
        """

    def evolve(self, states: np.ndarray, times: np.ndarray) -> np.ndarray:
        """True trajectories float64[n, T, D] at ``times`` [T] from ``states`` [n, D] at t = 0."""
        states = np.asarray(states, dtype=np.float64)
        times = np.asarray(times, dtype=np.float64)
        n, d = states.shape
        out = np.empty((n, len(times), d))
        if n == 0 or len(times) == 0:
            return out
        end = float(times.max())
        for start in range(0, n, GROUP):
            group = states[start : start + GROUP]  # [g, D]
            size = len(group)
            if end == 0:
                out[start : start + size] = group[:, None, :]
                continue

            def flow(_t: float, flat: np.ndarray, size: int = size) -> np.ndarray:
                return self.vector_field(flat.reshape(size, d)).reshape(-1)

            solution = solve_ivp(
                flow,
                (0.0, end),
                group.reshape(-1),
                method="DOP853",
                t_eval=times,
                rtol=TOLERANCE,
                atol=TOLERANCE,
            )
            if not solution.success:  # never seen for the bounded orbits drawn here
                raise RuntimeError(f"{self.name}: integration failed ({solution.message})")
            out[start : start + size] = solution.y.reshape(size, d, len(times)).transpose(0, 2, 1)
        return out


def _on_circle(uniform: np.ndarray, low: float, high: float) -> np.ndarray:
    """Points float64[n, 2] at a radius uniform in [low, high] and a uniform angle.

    ``uniform`` [n, 2] holds the uniform numbers in [0, 1) of each point (drawn
    row by row, so the first points do not depend on how many are drawn).
    """
    radius = low + (high - low) * uniform[:, 0]
    angle = 2 * np.pi * uniform[:, 1]
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


class MassSpring(System):
    """The ideal mass on a spring, k = m = 1: H = q^2 / 2 + p^2 / 2.

    Initial (q, p) at a radius uniform in [0.1, 1] and a uniform angle in
    phase space (energies 0.005 to 0.5); the flow is the exact rotation
    ``q(t) = q0 cos t + p0 sin t``, ``p(t) = p0 cos t - q0 sin t`` (period 2 pi).
    The paper's defaults: noise 0.1, 30 states 0.1 apart per trajectory (its
    text's H; its code uses q^2 + p^2, twice as fast).
    """

    name = "mass_spring"
    feature_names = ("q", "p")
    noise, dt, points = 0.1, 0.1, 30

    def energy(self, states: np.ndarray) -> np.ndarray:
        q, p = states[..., 0], states[..., 1]
        return 0.5 * q**2 + 0.5 * p**2

    def vector_field(self, states: np.ndarray) -> np.ndarray:
        q, p = states[..., 0], states[..., 1]
        return np.stack([p, -q], axis=-1)

    def initial_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return _on_circle(rng.random((n, 2)), 0.1, 1.0)

    def evolve(self, states: np.ndarray, times: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.float64)
        cos, sin = np.cos(times)[None, :], np.sin(times)[None, :]  # [1, T]
        q0, p0 = states[:, :1], states[:, 1:2]  # [n, 1]
        return np.stack([q0 * cos + p0 * sin, p0 * cos - q0 * sin], axis=-1)  # [n, T, 2]


class Pendulum(System):
    """The ideal pendulum of the paper's code: H = 3 (1 - cos q) + p^2.

    This is ``2 m g l (1 - cos q) + l^2 p^2 / (2 m)`` with m = 1/2, l = 1 and
    g = 3 (the constants of the released code, which differ from the m = l =
    1 quoted in the paper's text): ``dq/dt = 2 p``, ``dp/dt = -3 sin q``.
    Initial (q, p) at a radius uniform in [1.3, 2.3] and a uniform angle, so
    every orbit swings below the separatrix (energies about 1.7 to 5.3; the
    separatrix is at 6). The paper's defaults: noise 0.1, 45 states 1/15 apart.
    """

    name = "pendulum"
    feature_names = ("q", "p")
    noise, dt, points = 0.1, 1.0 / 15.0, 45

    def energy(self, states: np.ndarray) -> np.ndarray:
        q, p = states[..., 0], states[..., 1]
        return 3.0 * (1.0 - np.cos(q)) + p**2

    def vector_field(self, states: np.ndarray) -> np.ndarray:
        q, p = states[..., 0], states[..., 1]
        return np.stack([2.0 * p, -3.0 * np.sin(q)], axis=-1)

    def initial_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return _on_circle(rng.random((n, 2)), 1.3, 2.3)


class TwoBody(System):
    """Two unit masses in a plane under their gravity (G = 1): H = |p1|^2/2 + |p2|^2/2 - 1/|q1-q2|.

    State (x1, y1, x2, y2, px1, py1, px2, py2): positions q1, q2 and momenta
    (= velocities) p1, p2. As in the paper, each orbit starts with the bodies
    opposite each other about the centre of mass at the origin, at a distance
    r uniform in [0.5, 1.5] from it (here at a uniform angle), and with the
    velocity of a circular orbit, 1 / (2 sqrt(r)), perpendicular to the radius,
    times 1 + 0.05 N(0, 1): nearly circular orbits of periods 4 pi r^1.5 (4.4 to
    23), energy about -1/(4 r). The paper's defaults: no noise, 50 states 0.4
    apart (t up to 20).
    """

    name = "two_body"
    feature_names = ("x1", "y1", "x2", "y2", "px1", "py1", "px2", "py2")
    noise, dt, points = 0.0, 0.4, 50

    def energy(self, states: np.ndarray) -> np.ndarray:
        q1, q2, p1, p2 = states[..., 0:2], states[..., 2:4], states[..., 4:6], states[..., 6:8]
        distance = np.sqrt(((q1 - q2) ** 2).sum(axis=-1))
        return 0.5 * (p1**2).sum(axis=-1) + 0.5 * (p2**2).sum(axis=-1) - 1.0 / distance

    def vector_field(self, states: np.ndarray) -> np.ndarray:
        q1, q2, p1, p2 = states[..., 0:2], states[..., 2:4], states[..., 4:6], states[..., 6:8]
        separation = q1 - q2  # [..., 2]
        distance = np.sqrt((separation**2).sum(axis=-1, keepdims=True))
        force = -separation / distance**3  # on body 1; body 2 feels the opposite
        return np.concatenate([p1, p2, force, -force], axis=-1)

    def initial_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        uniform = rng.random((n, 3))  # radius, angle, speed factor of each orbit
        q1 = _on_circle(uniform[:, :2], 0.5, 1.5)  # [n, 2]
        r = np.sqrt((q1**2).sum(axis=1, keepdims=True))
        factor = 1.0 + 0.05 * ndtri(uniform[:, 2:])  # 1 + 0.05 N(0, 1), [n, 1]
        speed = factor / (2.0 * np.sqrt(r))
        p1 = speed * np.stack([-q1[:, 1], q1[:, 0]], axis=1) / r  # perpendicular, counter-clockwise
        return np.concatenate([q1, -q1, p1, -p1], axis=1)


#: every system by its name (the source's ``system`` choices)
SYSTEMS: dict[str, System] = {
    system.name: system for system in (MassSpring(), Pendulum(), TwoBody())
}


def system(name: str | System) -> System:
    """The system called ``name`` (one of :data:`SYSTEMS`); a System is returned as it is."""
    if isinstance(name, System):
        return name
    if name not in SYSTEMS:
        guess = closest(name, list(SYSTEMS))
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"system must be one of {', '.join(SYSTEMS)}; received {name!r}{hint}")
    return SYSTEMS[name]


__all__ = ["SYSTEMS", "MassSpring", "Pendulum", "System", "TwoBody", "system"]
