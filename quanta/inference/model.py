"""The scattering models fitted to a curve, their priors and their Gaussian likelihood.

A dilute suspension of particles scatters ``I(q) = scale * P_1(q) + background``:
``P_1`` is the sasmodels form factor of one shape evaluated by the ``saxs``
source (:func:`quanta.simulators.saxs.kernels.evaluate`) at unit volume
fraction and unit contrast (1e-6 A^-2), averaged over a Schulz distribution of
the main radius of relative width ``polydispersity`` (sigma_R / R, as sasmodels
defines it), and smeared by the pinhole resolution dq = dq_over_q * q of
:mod:`quanta.simulators.saxs.grid`. So ``scale = phi * (Delta rho / 1e-6 A^-2)^2``
(volume fraction times squared contrast) and I is in cm^-1.

Priors are uniform within physical bounds, in log10 where a quantity spans
decades (scale, cylinder length): see :data:`MODELS`. The sampler works in
these coordinates (log10 for log parameters). The background prior is uniform
from 0 to the largest measured intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.errors import UserError, closest

DISTRIBUTION = "schulz"  # the size distribution of the main radius


@dataclass(frozen=True)
class Parameter:
    """One fitted parameter: its name, unit, prior bounds (in its own units) and whether sampled in log10."""

    name: str
    unit: str
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class ShapeModel:
    """A sasmodels shape and its geometric parameters (the rest are shared by every shape)."""

    shape: str  # the saxs source's shape name
    geometry: tuple[Parameter, ...]  # the first is the main radius, which carries the polydispersity


COMMON = (
    Parameter("polydispersity", "", 0.0, 0.5),
    Parameter("scale", "(1e-6/A^2)^2", 1e-10, 1e4, log=True),  # volume fraction * contrast^2
)

MODELS: dict[str, ShapeModel] = {
    "sphere": ShapeModel("sphere", (Parameter("radius", "A", 2.0, 2000.0),)),
    "core_shell_sphere": ShapeModel("core_shell_sphere", (
        Parameter("radius", "A", 2.0, 2000.0), Parameter("shell_thickness", "A", 1.0, 1000.0),
        Parameter("shell_contrast_ratio", "", -3.0, 3.0))),
    "cylinder": ShapeModel("cylinder", (
        Parameter("radius", "A", 2.0, 2000.0), Parameter("length", "A", 10.0, 1e5, log=True))),
}

# where a fitted parameter goes in the saxs source's parameter rows
_ROW = {"radius": "radius", "shell_thickness": "shell_thickness", "length": "length",
        "shell_contrast_ratio": "shell_contrast"}


class CurveModel:
    """A shape's intensity on a curve's q, its log prior and its log likelihood.

    Args:
        name: a key of :data:`MODELS`.
        q: float64[n] measured q in 1/A.
        intensity: float64[n] measured I.
        sigma: float64[n] its standard uncertainty (> 0).
        dq_over_q: pinhole resolution (0: none).
        priors: optional ``{parameter: (low, high)}`` replacing bounds, in the parameter's units.
    """

    def __init__(self, name: str, q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray,
                 dq_over_q: float = 0.0, priors: dict[str, tuple[float, float]] | None = None) -> None:
        self.name = name
        self.shape = model_named(name)
        background = Parameter("background", "cm^-1", 0.0, float(np.max(intensity)))
        parameters = [*self.shape.geometry, *COMMON, background]
        self.parameters = tuple(_with_prior(p, priors) for p in parameters)
        unknown = sorted(set(priors or {}) - {p.name for p in self.parameters})
        if unknown:
            raise UserError(f"priors: {unknown[0]!r} is not a parameter of {name}; allowed: "
                            + ", ".join(p.name for p in self.parameters))
        self.q, self.intensity, self.sigma = q, intensity, sigma
        self.dq_over_q = float(dq_over_q)
        self.low = np.array([np.log10(p.low) if p.log else p.low for p in self.parameters])
        self.high = np.array([np.log10(p.high) if p.log else p.high for p in self.parameters])
        self._log = np.array([p.log for p in self.parameters])
        if self.dq_over_q > 0:
            from quanta.simulators.saxs.grid import calculation_grid, smearing_matrix

            self._q_calc = calculation_grid(float(q.min()), float(q.max()), len(q), self.dq_over_q)[0]
            self._smear = smearing_matrix(self._q_calc, q, self.dq_over_q)
        else:
            self._q_calc, self._smear = q, None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def physical(self, theta: np.ndarray) -> np.ndarray:
        """Sampling coordinates [..., p] -> parameter values in their units (10**x for log ones)."""
        theta = np.asarray(theta, dtype=np.float64)
        return np.where(self._log, 10.0 ** theta, theta)

    def sampling(self, values: np.ndarray) -> np.ndarray:
        """Parameter values -> sampling coordinates (log10 for log parameters)."""
        values = np.asarray(values, dtype=np.float64)
        return np.where(self._log, np.log10(np.maximum(values, 1e-300)), values)

    def unit_intensity(self, geometry: np.ndarray, polydispersity: float) -> np.ndarray:
        """The smeared unit-scale, background-free I(q) of one geometry (its parameter values)."""
        from quanta.simulators.saxs import kernels
        from quanta.simulators.saxs.shapes import PARAMETER_NAMES

        row = np.zeros((1, len(PARAMETER_NAMES)))
        row[0, PARAMETER_NAMES.index("contrast")] = 1.0
        for parameter, value in zip(self.shape.geometry, geometry, strict=True):
            row[0, PARAMETER_NAMES.index(_ROW[parameter.name])] = value
        unit = kernels.evaluate(self.shape.shape, row, self._q_calc, float(polydispersity), DISTRIBUTION)[0]
        return unit if self._smear is None else unit @ self._smear

    def intensity_at(self, theta: np.ndarray) -> np.ndarray:
        """The model I(q) on the measured q for sampling coordinates ``theta`` [p]."""
        values = self.physical(theta)
        k = len(self.shape.geometry)
        return values[k + 1] * self.unit_intensity(values[:k], values[k]) + values[k + 2]

    def log_prior(self, theta: np.ndarray) -> float:
        """0 inside the prior box (uniform in sampling coordinates), -inf outside."""
        inside = np.all(theta >= self.low) and np.all(theta <= self.high)
        return 0.0 if inside else -np.inf

    def log_probability(self, theta: np.ndarray) -> float:
        """The log posterior up to a constant: log prior + Gaussian log likelihood."""
        prior = self.log_prior(theta)
        if not np.isfinite(prior):
            return -np.inf
        residual = (self.intensity - self.intensity_at(theta)) / self.sigma
        value = -0.5 * float(residual @ residual)
        return value if np.isfinite(value) else -np.inf


def model_named(name: str) -> ShapeModel:
    """The :data:`MODELS` entry, or a one-line error naming the allowed models."""
    if name not in MODELS:
        near = closest(name, MODELS)
        hint = f" (did you mean {near!r}?)" if near else ""
        raise UserError(f"model: must be one of {', '.join(MODELS)}; received {name!r}{hint}")
    return MODELS[name]


def _with_prior(parameter: Parameter, priors: dict[str, tuple[float, float]] | None) -> Parameter:
    if not priors or parameter.name not in priors:
        return parameter
    bounds = priors[parameter.name]
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise UserError(f"priors.{parameter.name}: must be a pair (low, high) of numbers; received {bounds!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high) or (parameter.log and low <= 0):
        allowed = "0 < low < high" if parameter.log else "finite low < high"
        raise UserError(f"priors.{parameter.name}: must be {allowed}; received ({low}, {high})")
    return Parameter(parameter.name, parameter.unit, low, high, parameter.log)
