"""The curves a consensus is calibrated and tested on: sphere populations and sets of curves.

:class:`CurvePrior` is the population (radius, polydispersity and flux ranges,
the q grid and resolution), :class:`CurveSet` curves on one q grid with their
truth when simulated, :func:`simulate_curves` draws a set through the
``saxs`` source's sphere kernels and counting statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.errors import UserError, shown


@dataclass(frozen=True)
class CurvePrior:
    """The population calibration curves are drawn from: spheres as the ``saxs`` source makes them.

    Radius R log-uniform in ``radius`` (A), Schulz polydispersity sigma_R / R
    uniform in ``polydispersity``, flux (expected counts per cm^-1 in a q bin)
    log-uniform in ``flux``; contrast, volume fraction and background as in
    :mod:`quanta.simulators.saxs.shapes`; the curve on ``n_q`` log-spaced q from
    ``q_min`` to ``q_max`` (1/A) with pinhole resolution ``dq_over_q``.
    """

    radius: tuple[float, float] = (20.0, 200.0)
    polydispersity: tuple[float, float] = (0.0, 0.2)
    flux: tuple[float, float] = (1e4, 1e6)
    q_min: float = 0.005
    q_max: float = 0.5
    n_q: int = 128
    dq_over_q: float = 0.05
    background: float = 1e-3

    def __post_init__(self) -> None:
        _check_range("prior.radius", self.radius, "in A with 0 < low <= high")
        _check_range("prior.polydispersity", self.polydispersity, "with 0 <= low <= high <= 0.5",
                     highest=0.5, open_below=False)
        _check_range("prior.flux", self.flux, "in counts per cm^-1 with 0 < low <= high")
        checks = [("q_min", 0 < self.q_min < self.q_max < math.inf, "0 < q_min < q_max (1/A)"),
                  ("n_q", isinstance(self.n_q, int) and 8 <= self.n_q <= 10_000,
                   "an integer in [8, 10000]"),
                  ("dq_over_q", 0 <= self.dq_over_q <= 0.2, "a relative resolution in [0, 0.2]"),
                  ("background", 0 <= self.background < math.inf, "an intensity in 1/cm >= 0")]
        for name, ok, allowed in checks:
            if not ok:
                raise UserError(f"prior.{name}: must be {allowed}; "
                                f"received {shown(getattr(self, name))}")

    @property
    def q(self) -> np.ndarray:
        """The curves' q, float64[n_q] in 1/A (the ``saxs`` source's grid)."""
        from quanta.simulators.saxs.grid import curve_grid

        return curve_grid(self.q_min, self.q_max, self.n_q)

    def to_json(self) -> dict[str, Any]:
        return {key: list(v) if isinstance(v, tuple) else v for key, v in self.__dict__.items()}


@dataclass(frozen=True)
class CurveSet:
    """Curves on one q grid: q float64[n] (1/A), intensity and sigma float64[N, n] (cm^-1).

    Simulated sets also carry their truth: radius (A), polydispersity and flux, float64[N].
    """

    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    radius: np.ndarray | None = None
    polydispersity: np.ndarray | None = None
    flux: np.ndarray | None = None

    def __post_init__(self) -> None:
        q = np.asarray(self.q, dtype=np.float64)
        if q.ndim != 1 or len(q) < 4:
            raise UserError(f"curves.q: must be one q grid float[n], n >= 4; "
                            f"received shape {q.shape}")
        object.__setattr__(self, "q", q)
        for name in ("intensity", "sigma"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.ndim != 2 or values.shape[1] != len(q):
                raise UserError(f"curves.{name}: must be [N, n] with n = len(q) = {len(q)}; "
                                f"received shape {values.shape}")
            object.__setattr__(self, name, values)
        if self.sigma.shape != self.intensity.shape:
            raise UserError(f"curves.sigma: must have the shape of intensity "
                            f"{self.intensity.shape}; received {self.sigma.shape}")
        problems = [("q", ~(np.isfinite(q) & (q > 0)), "finite and > 0 (1/A)"),
                    ("intensity", ~np.isfinite(self.intensity), "finite"),
                    ("sigma", ~(np.isfinite(self.sigma) & (self.sigma > 0)), "finite and > 0")]
        for name, bad, allowed in problems:
            if bad.any():
                raise UserError(f"curves.{name}: must be {allowed}; {int(bad.sum())} value(s) "
                                "are not")
        if np.any(np.diff(q) <= 0):
            raise UserError("curves.q: must increase")

    def __len__(self) -> int:
        return len(self.intensity)


def simulate_curves(size: int, seed: int = 1, prior: CurvePrior | None = None) -> CurveSet:
    """``size`` sphere curves drawn from ``prior``, with Poisson counting noise; seeded."""
    from quanta.inference.model import CurveModel
    from quanta.simulators.saxs import shapes
    from quanta.simulators.saxs.counting import count

    prior = prior or CurvePrior()
    if not (isinstance(size, int) and size >= 1):
        raise UserError(f"size: must be an integer >= 1 (curves); received {shown(size)}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 13]))
    radius = np.exp(rng.uniform(*np.log(prior.radius), size))
    polydispersity = rng.uniform(*prior.polydispersity, size)
    flux = np.exp(rng.uniform(*np.log(prior.flux), size))
    scale = rng.uniform(*shapes.CONTRAST, size) ** 2 * np.exp(
        rng.uniform(*np.log(shapes.VOLUME_FRACTION), size))  # contrast^2 * volume fraction
    background = prior.background * shapes.BACKGROUND_SPREAD ** rng.uniform(-1, 1, size)
    q = prior.q
    model = CurveModel("sphere", q, np.ones_like(q), np.ones_like(q), prior.dq_over_q)
    intensity, sigma = np.empty((size, len(q))), np.empty((size, len(q)))
    for i in range(size):
        unit = model.unit_intensity([radius[i]], polydispersity[i])
        intensity[i], sigma[i] = count(scale[i] * unit + background[i], flux[i], rng)
    return CurveSet(q, intensity, sigma, radius, polydispersity, flux)


def _check_range(where: str, value: Any, allowed: str, highest: float = math.inf,
                 open_below: bool = True) -> None:
    """A pair (low, high) with 0 < low (0 <= low unless open_below) <= high <= highest, finite."""
    try:
        low, high = (float(v) for v in value)
        above = low > 0 if open_below else low >= 0
        ok = above and low <= high <= highest and math.isfinite(high)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UserError(f"{where}: must be (low, high) {allowed}; received {shown(value)}")


def grid_text(q: np.ndarray) -> str:
    """The grid in words: its points and range."""
    return f"{len(q)} points from {q[0]:.4g} to {q[-1]:.4g} 1/A" if len(q) else "no points"
