"""Beam steering: put a misaligned beam on a target with correctors, read by noisy monitors.

The beamline is a short transport line in linear optics (the thin-lens
transfer matrices of H. Wiedemann, *Particle Accelerator Physics*, 4th ed.,
Springer 2015, ch. 7; also K. Wille, *The Physics of Particle Accelerators*,
ch. 3). Each transverse plane is followed on its own; a particle's state is
``(u, u')`` (mm, mrad) with ``u`` = x or y::

    s = 0 m    C1  corrector (a dipole kick in x and in y)
    s = 0-1 m      drift            D(L) = [[1, L], [0, 1]]
    s = 1 m    QF  thin quadrupole  Q(f) = [[1, 0], [-1/f, 1]],  f = +f in x, -f in y
    s = 1-2 m      drift
    s = 2 m    BPM1, then C2 (corrector)
    s = 2-3 m      drift
    s = 3 m    QD  thin quadrupole, f = -f in x, +f in y
    s = 3-5 m      drift
    s = 5 m    the target, seen by a monitor on it (BPM2)

Every matrix has determinant 1 (Liouville). A quadrupole displaced by ``d``
gives an off-axis kick: ``u' -> u' - (u - d)/f``, i.e. the centred lens plus a
kick ``d/f``; a corrector adds its angle to ``u'``. The beam is linear in the
kicks, so each monitor reads ``u = u_0 + R θ``: ``u_0`` the misaligned beam
with the correctors off, ``R`` the response matrix, whose element (monitor m,
corrector k) is the ``R12`` of the transfer matrix from corrector k to
monitor m (zero upstream). ``R`` is computed once, so that a step costs a few
microseconds.

Each episode (``reset(seed=...)``) draws an unknown misalignment from its seed:
the beam's initial offset (Gaussian, ``offset_scale`` mm per plane) and angle
(``angle_scale`` mrad) and each quadrupole's offset (``quad_offset_scale`` mm).
The monitors read the true centroid plus Gaussian noise of ``noise`` mm
(fresh every step, and clipped to the monitors' range ±``BPM_RANGE`` mm).

Observation (float32[8]): the readings of BPM1 and of the target monitor
(x, y; mm) and the four corrector settings (C1 x, C1 y, C2 x, C2 y; mrad).
Actions (Discrete(9)): 0 does nothing; ``1 + 2k`` raises corrector k by
``kick_step`` mrad, ``2 + 2k`` lowers it (within ±``max_kick``). Reward per
step: ``-step_penalty - distance_weight * min(d / tolerance, 10)`` with ``d``
the true distance of the beam from the target centre after the step. The
episode terminates when ``d < tolerance`` (success) and is truncated after
``max_steps`` steps.

``scripted_action`` is the control room's one-to-one steering: the upstream
monitor first, each plane's reading beyond its deadband (half a step's
response or twice the noise) is reduced
with the corrector just before that monitor. It ignores that C1 moves the beam
at the target too (more than C2 does), and it spends steps centring BPM1,
which the target does not need: an agent that learns the response steers in
fewer steps.

The defaults: quadrupoles of ``focal_length`` 1.5 m, which makes the response
(mm per mrad) of BPM1 to C1 1.33 in x and 2.67 in y, of the target to C1 4.56
and 1.89 and to C2 4.33 and 1.67; misalignments of 1 mm, 0.3 mrad and 0.3 mm
(σ); steps of 0.1 mrad within ±3 mrad; a 0.3 mm tolerance; 50 µm monitor
noise; 60 steps. On 300 episodes one-to-one steering succeeds in 97 % of them
after 24 steps on average (return −17), random actions in 13 % (return −50),
and steering the target alone with the known response in 100 % after 9 (−4.8).
"""

from __future__ import annotations

from typing import Annotated, Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pydantic import Field

from quanta.agents.environment import EVALUATION_EPISODES, Environment
from quanta.registry import checked

#: the line: (kind, name, length m or focal sign); quads focus in x for sign +1
LAYOUT = (("corrector", "C1"), ("drift", 1.0), ("quad", "QF", +1), ("drift", 1.0),
          ("monitor", "BPM1"), ("corrector", "C2"), ("drift", 1.0), ("quad", "QD", -1),
          ("drift", 2.0), ("monitor", "target"))
PLANES = ("x", "y")
MONITORS = ("BPM1", "target")
CORRECTORS = ("C1", "C2")
QUADS = ("QF", "QD")
BPM_RANGE = 50.0  # mm: a monitor's reading saturates there
DISTANCE_CAP = 10.0  # in tolerances: the distance term of the reward is capped there
FEATURES = ["bpm1_x_mm", "bpm1_y_mm", "target_x_mm", "target_y_mm",
            "c1_x_mrad", "c1_y_mrad", "c2_x_mrad", "c2_y_mrad"]


def drift(length: float) -> np.ndarray:
    """The transfer matrix of a field-free drift of ``length`` m, on (mm, mrad)."""
    return np.array([[1.0, length], [0.0, 1.0]])


def thin_quad(focal_length: float) -> np.ndarray:
    """A thin quadrupole of focal length ``f`` m (> 0 focusing, < 0 defocusing), on (mm, mrad)."""
    return np.array([[1.0, 0.0], [-1.0 / focal_length, 1.0]])


class Beamline:
    """The line's optics in one plane: transfer matrices and the corrector response.

    ``focal`` is the plane's signed focal length of each quadrupole (m).
    """

    def __init__(self, focal_length: float, plane: str):
        sign = 1.0 if plane == "x" else -1.0  # a quad focusing in x defocuses in y
        self.focal = {e[1]: sign * e[2] * focal_length for e in LAYOUT if e[0] == "quad"}
        self.response = np.zeros((len(MONITORS), len(CORRECTORS)))  # mm per mrad
        for k, corrector in enumerate(CORRECTORS):
            for m, monitor in enumerate(MONITORS):
                self.response[m, k] = self.matrix(corrector, monitor)[0, 1]

    def matrix(self, start: str, end: str) -> np.ndarray:
        """The transfer matrix from element ``start`` to element ``end`` (identity if upstream)."""
        names = [e[1] if e[0] != "drift" else None for e in LAYOUT]
        i, j = names.index(start), names.index(end)
        total = np.eye(2)
        for element in LAYOUT[i + 1:j] if i < j else ():
            total = self.element(element) @ total
        return total

    def element(self, element: tuple) -> np.ndarray:
        if element[0] == "drift":
            return drift(element[1])
        if element[0] == "quad":
            return thin_quad(self.focal[element[1]])
        return np.eye(2)

    def track(self, offset: float, angle: float, quad_offsets: dict[str, float],
              kicks: dict[str, float]) -> dict[str, float]:
        """The centroid (mm) at each monitor, tracked element by element from (offset, angle)."""
        state, seen = np.array([offset, angle], dtype=np.float64), {}
        for element in LAYOUT:
            if element[0] == "drift":
                state = drift(element[1]) @ state
            elif element[0] == "quad":
                f = self.focal[element[1]]
                state = thin_quad(f) @ state + np.array([0.0, quad_offsets[element[1]] / f])
            elif element[0] == "corrector":
                state = state + np.array([0.0, kicks.get(element[1], 0.0)])
            else:
                seen[element[1]] = float(state[0])
        return seen


class BeamSteering(gymnasium.Env):
    """The beam-steering environment (see the module docstring for the physics)."""

    metadata = {"render_modes": []}

    def __init__(self, noise: float = 0.05, max_steps: int = 60, kick_step: float = 0.1,
                 max_kick: float = 3.0, tolerance: float = 0.3, offset_scale: float = 1.0,
                 angle_scale: float = 0.3, quad_offset_scale: float = 0.3,
                 focal_length: float = 1.5, step_penalty: float = 0.1,
                 distance_weight: float = 0.1):
        self.noise, self.max_steps, self.kick_step = noise, max_steps, kick_step
        self.max_kick, self.tolerance = max_kick, tolerance
        self.offset_scale, self.angle_scale = offset_scale, angle_scale
        self.quad_offset_scale, self.focal_length = quad_offset_scale, focal_length
        self.step_penalty, self.distance_weight = step_penalty, distance_weight
        self.lines = [Beamline(focal_length, plane) for plane in PLANES]
        # response[m, p, k]: monitor m, plane p, corrector k (mm per mrad)
        self.response = np.stack([line.response for line in self.lines], axis=1)
        high = np.array([BPM_RANGE] * 4 + [max_kick] * 4, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(1 + 2 * len(CORRECTORS) * len(PLANES))
        self.kicks = np.zeros((len(PLANES), len(CORRECTORS)))  # [plane, corrector] mrad
        self.base = np.zeros((len(MONITORS), len(PLANES)))  # the beam with the correctors off
        self.steps = 0

    # -- the beam ------------------------------------------------------------------------------
    def positions(self) -> np.ndarray:
        """The true centroid (mm) at each monitor, ``[monitor, plane]``."""
        return self.base + (self.response * self.kicks).sum(axis=-1)

    def distance(self) -> float:
        """The true distance (mm) of the beam from the target centre."""
        x, y = self.positions()[-1]
        return float(np.hypot(x, y))

    def misalign(self, offsets: np.ndarray, angles: np.ndarray, quad_offsets: np.ndarray) -> None:
        """Set the misalignment per plane: beam offset (mm) and angle (mrad), quad offsets (mm)."""
        for p, line in enumerate(self.lines):
            quads = dict(zip(QUADS, quad_offsets[p], strict=True))
            seen = line.track(offsets[p], angles[p], quads, {})
            self.base[:, p] = [seen[m] for m in MONITORS]

    def _observation(self) -> np.ndarray:
        readings = self.positions() + self.noise * self.np_random.standard_normal(self.base.shape)
        readings = np.clip(readings, -BPM_RANGE, BPM_RANGE)
        kicks = self.kicks.T  # [corrector, plane]: C1 x, C1 y, C2 x, C2 y
        return np.concatenate([readings.reshape(-1), kicks.reshape(-1)]).astype(np.float32)

    # -- Gymnasium -----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        self.misalign(self.offset_scale * rng.standard_normal(2),
                      self.angle_scale * rng.standard_normal(2),
                      self.quad_offset_scale * rng.standard_normal((2, len(QUADS))))
        self.kicks[:] = 0.0
        self.steps = 0
        return self._observation(), {"distance_mm": self.distance()}

    def step(self, action: Any):
        action = int(action)
        if not 0 <= action < self.action_space.n:
            last = self.action_space.n - 1
            raise ValueError(f"beam_steering: action {action} is not one of 0..{last}")
        if action:
            index, sign = divmod(action - 1, 2)
            corrector, plane = divmod(index, len(PLANES))
            change = self.kick_step if sign == 0 else -self.kick_step
            value = self.kicks[plane, corrector] + change
            self.kicks[plane, corrector] = np.clip(value, -self.max_kick, self.max_kick)
        self.steps += 1
        distance = self.distance()
        success = distance < self.tolerance
        reward = -self.step_penalty - self.distance_weight * min(distance / self.tolerance,
                                                                 DISTANCE_CAP)
        truncated = not success and self.steps >= self.max_steps
        return (self._observation(), float(reward), bool(success), bool(truncated),
                {"distance_mm": distance, "success": bool(success)})

    # -- the control room's script -------------------------------------------------------------
    def scripted_action(self, observation: Any) -> int:
        """One-to-one steering: the first monitor (upstream first) off by more than its deadband.

        The deadband of a monitor is half a step's response or twice the
        monitors' noise, whichever is larger (an operator does not chase noise).
        """
        readings = np.asarray(observation, dtype=np.float64)[:4].reshape(len(MONITORS), len(PLANES))
        kicks = np.asarray(observation, dtype=np.float64)[4:].reshape(len(CORRECTORS), len(PLANES))
        for m in range(len(MONITORS)):  # corrector m stands just before monitor m
            for p in range(len(PLANES)):
                per_step = self.response[m, p, m] * self.kick_step
                if abs(readings[m, p]) <= max(abs(per_step) / 2, 2 * self.noise):
                    continue
                raise_it = readings[m, p] * per_step < 0  # raising moves the reading towards 0
                limit = self.max_kick if raise_it else -self.max_kick
                if abs(kicks[m, p] - limit) < 1e-6:
                    continue  # at its limit: nothing this corrector can do
                return 1 + 2 * (m * len(PLANES) + p) + (0 if raise_it else 1)
        return 0


def _number(low: float, high: float, unit: str, above: bool = False) -> Any:
    """A float parameter in ``[low, high]`` (``(low, high]`` when ``above``) in ``unit``."""
    left = "(" if above else "["
    bound = {"gt": low} if above else {"ge": low}
    return Annotated[float, Field(**bound, le=high,
                                  description=f"a number in {left}{low:g}, {high:g}] ({unit})")]


NOISE, TOLERANCE = _number(0, 10, "mm"), _number(0, 100, "mm", True)
KICK_STEP = _number(0, 5, "mrad", True)
MAX_KICK, FOCAL = _number(0, 50, "mrad", True), _number(0.5, 100, "m")
OFFSET, ANGLE = _number(0, 20, "mm"), _number(0, 20, "mrad")
WEIGHT = Annotated[float, Field(ge=0, description="a number >= 0")]
MAX_STEPS = Annotated[int, Field(ge=1, le=10_000, description="an integer from 1 to 10000")]


@checked
def beam_steering(noise: NOISE = 0.05, max_steps: MAX_STEPS = 60, kick_step: KICK_STEP = 0.1,
                  max_kick: MAX_KICK = 3.0, tolerance: TOLERANCE = 0.3, offset_scale: OFFSET = 1.0,
                  angle_scale: ANGLE = 0.3, quad_offset_scale: OFFSET = 0.3,
                  focal_length: FOCAL = 1.5, step_penalty: WEIGHT = 0.1,
                  distance_weight: WEIGHT = 0.1, valid_episodes: EVALUATION_EPISODES = 20,
                  test_episodes: EVALUATION_EPISODES = 200, seed: int = 1) -> Environment:
    """Steering a beam through quadrupoles and correctors onto a target, read by noisy beam-position monitors

    A thin-lens transport line (two correctors, a focusing and a defocusing
    quadrupole, a monitor midway and one on the target; the physics and the
    units are in :mod:`quanta.agents.beam_steering`). Each episode draws an
    unknown misalignment from its seed; an agent raises or lowers one corrector
    by ``kick_step`` mrad per step until the beam is within ``tolerance`` mm of
    the target centre (success) or ``max_steps`` have passed. ``noise`` is the
    monitors' resolution (mm); ``offset_scale``, ``angle_scale`` and
    ``quad_offset_scale`` the misalignment's standard deviations.
    """
    settings = {"noise": noise, "max_steps": max_steps, "kick_step": kick_step,
                "max_kick": max_kick, "tolerance": tolerance, "offset_scale": offset_scale,
                "angle_scale": angle_scale,
                "quad_offset_scale": quad_offset_scale, "focal_length": focal_length,
                "step_penalty": step_penalty, "distance_weight": distance_weight}

    def make() -> BeamSteering:
        return BeamSteering(**settings)

    probe = make()
    info = {**settings, "layout": [list(e) for e in LAYOUT],
            "response_mm_per_mrad": {plane: probe.response[:, p, :].round(6).tolist()
                                     for p, plane in enumerate(PLANES)},
            "actions": ["nothing"] + [f"{c} {plane} {way}" for c in CORRECTORS for plane in PLANES
                                      for way in ("+", "-")]}
    return Environment("beam_steering", make, seed, valid_episodes, test_episodes,
                       feature_names=list(FEATURES), info=info)


__all__ = ["BeamSteering", "Beamline", "beam_steering", "drift", "thin_quad"]
