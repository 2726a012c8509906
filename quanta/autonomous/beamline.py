"""A simulated SAXS beamline: one curve per sample position, and what a measurement costs in time.

The curve at a position is the sasmodels sphere of the local mean radius and
polydispersity (:meth:`quanta.inference.model.CurveModel.unit_intensity`,
smeared by the pinhole resolution), times ``scale`` (volume fraction times
squared contrast, ``phi (Delta rho / 1e-6 A^-2)^2``), plus a flat
``background`` (cm^-1); the detector counts it with Poisson statistics at
``flux = flux_per_second * exposure`` counts per unit intensity and q bin
(:func:`quanta.simulators.saxs.counting.count`), so the noise falls as
1 / sqrt(exposure).

Time: a measurement costs its exposure, plus the move of the sample stage
from the previous position (straight line at ``motor_speed`` mm/s, the axes
moving together) and a fixed ``overhead`` per move (settling, shutter,
detector read-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quanta.autonomous.sample import Sample


@dataclass(frozen=True)
class Curve:
    """One measured curve: q (1/A), I and dI (cm^-1), each float64[n]."""

    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray


@dataclass
class Beamline:
    """The instrument: q grid, resolution, sample contrast, flux and stage.

    Args:
        q_min, q_max, points: the log-spaced q grid of a curve (1/A).
        dq_over_q: pinhole resolution, 1 sigma (0: none).
        scale: volume fraction times squared contrast in (1e-6 A^-2)^2.
        background: flat background, cm^-1.
        flux_per_second: expected counts per unit intensity (1 cm^-1) per q bin per second.
        exposure: seconds per measurement.
        motor_speed: stage speed, mm/s.
        overhead: fixed seconds per move (0 for a measurement where the stage already is).
    """

    q_min: float = 0.003
    q_max: float = 0.3
    points: int = 80
    dq_over_q: float = 0.0
    scale: float = 0.01
    background: float = 0.001
    flux_per_second: float = 2000.0
    exposure: float = 1.0
    motor_speed: float = 2.0
    overhead: float = 0.5
    _model: object = field(default=None, init=False, repr=False)

    @property
    def q(self) -> np.ndarray:
        """The measured q, float64[points] in 1/A."""
        from quanta.simulators.saxs.grid import curve_grid

        return curve_grid(self.q_min, self.q_max, self.points)

    def expected(self, radius: float, polydispersity: float) -> np.ndarray:
        """The noise-free curve I(q) (cm^-1) of spheres of ``radius`` (A), float64[points]."""
        if self._model is None:
            from quanta.inference.model import CurveModel

            q = self.q
            self._model = CurveModel("sphere", q, np.ones_like(q), np.ones_like(q), self.dq_over_q)
        unit = self._model.unit_intensity(np.array([radius]), polydispersity)
        return self.scale * unit + self.background

    def measure(self, sample: Sample, point: np.ndarray, rng: np.random.Generator) -> Curve:
        """The counted curve at ``point`` (shape ``(2,)`` mm) with one exposure."""
        from quanta.simulators.saxs.counting import count

        where = np.asarray(point, dtype=float).reshape(1, 2)
        expected = self.expected(float(sample.radius(where)[0]),
                                 float(sample.polydispersity(where)[0]))
        intensity, sigma = count(expected, self.flux_per_second * self.exposure, rng)
        return Curve(self.q, intensity, sigma)

    def noise_free(self, sample: Sample, point: np.ndarray) -> Curve:
        """Expected curve at ``point``, with a 1 % relative uncertainty (equal weights in ln I)."""
        where = np.asarray(point, dtype=float).reshape(1, 2)
        expected = self.expected(float(sample.radius(where)[0]),
                                 float(sample.polydispersity(where)[0]))
        return Curve(self.q, expected, 0.01 * expected)

    def move_seconds(self, start: np.ndarray, end: np.ndarray) -> float:
        """Seconds to move the stage from ``start`` to ``end`` (mm), overhead included."""
        distance = float(np.hypot(*(np.asarray(end, float) - np.asarray(start, float))))
        return 0.0 if distance == 0.0 else distance / self.motor_speed + self.overhead

    def seconds(self, start: np.ndarray, end: np.ndarray) -> float:
        """Seconds of moving from ``start`` to ``end`` and measuring there."""
        return self.move_seconds(start, end) + self.exposure

    def move_seconds_to(self, start: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """:meth:`move_seconds` from one ``start`` (2,) to many ``ends`` (m, 2), shape ``(m,)``."""
        distance = np.hypot(*(np.asarray(ends, float) - np.asarray(start, float)).T)
        return np.where(distance == 0.0, 0.0, distance / self.motor_speed + self.overhead)

