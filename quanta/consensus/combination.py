"""The consensus: calibrated estimators combined into one radius, assessed, saved and loaded.

:class:`Consensus` is made by :meth:`~Consensus.calibrate` (curves of known
radius) or :meth:`~Consensus.simulated`; :meth:`~Consensus.combine` gives a
curve's :class:`ConsensusEstimate`, :meth:`~Consensus.naive` the shortcut it is
compared with, :meth:`~Consensus.assess` an :class:`Assessment` on a test set.
A calibration is saved as JSON (no pickle).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quanta.consensus.calibration import Calibration, cdf, fit_calibration
from quanta.consensus.curves import CurvePrior, CurveSet, grid_text, simulate_curves
from quanta.consensus.estimators import (
    BUILT_IN,
    Estimator,
    NetworkEstimator,
    chosen_estimators,
    train_network,
)
from quanta.errors import UserError, first_line, shown

LEVEL = 0.68  # the central credible interval reported
MIN_CURVES = 30  # calibration curves at least: four parameters per estimator, and correlations
MIN_AVAILABLE = 20  # curves on which each estimator must have given a radius
FORMAT = "quanta.consensus"  # the "format" field of a saved calibration
PRIORS = ("calibration", "flat")


@dataclass(frozen=True)
class Reading:
    """One estimator on one curve: raw radius, own sigma, calibrated radius and 68 % interval (A).

    ``failure`` says why it gave nothing (its numbers are then None).
    """

    name: str
    radius: float | None = None
    own_sigma: float | None = None
    calibrated: float | None = None
    interval: tuple[float, float] | None = None
    failure: str | None = None


@dataclass(frozen=True)
class ConsensusEstimate:
    """The combined radius: median, sd, central 68 % interval (A), sd of ln R, readings."""

    radius: float
    sigma: float
    interval: tuple[float, float]
    log_sigma: float
    per_estimator: dict[str, Reading]

    def __str__(self) -> str:
        used = ", ".join(r.name for r in self.per_estimator.values() if r.failure is None)
        low, high = self.interval
        return (f"radius {self.radius:.4g} A +- {self.sigma:.2g} A "
                f"(68 %: {low:.4g}-{high:.4g} A) from {used}")


@dataclass(frozen=True)
class Assessment:
    """A consensus on a test set of known radii: float64[N] per curve, [N, K] per estimator.

    ``radius``/``low``/``high``: the consensus and its 68 % interval (A); ``naive_*`` the
    naive combination (NaN where no estimator had its own sigma); ``raw`` each estimator's
    own radius, ``calibrated`` its calibrated one, with ``calibrated_low``/``_high``.
    """

    names: tuple[str, ...]
    truth: np.ndarray
    radius: np.ndarray
    low: np.ndarray
    high: np.ndarray
    naive_radius: np.ndarray
    naive_low: np.ndarray
    naive_high: np.ndarray
    raw: np.ndarray
    calibrated: np.ndarray
    calibrated_low: np.ndarray
    calibrated_high: np.ndarray

    def summary(self) -> dict[str, float]:
        """Coverage of the 68 % intervals (with binomial errors), RMS relative errors (R' - R) / R.

        Keys: ``coverage_68``, ``coverage_68_error``, ``rms_relative_error`` for the consensus,
        with ``_naive`` and ``_<estimator>`` (calibrated, over the curves it read) variants,
        ``raw_rms_relative_error_<estimator>``; every key again with ``_all`` over the curves
        that every estimator read (a like-for-like comparison).
        """
        every = np.all(np.isfinite(self.raw), axis=1)
        out = {"curves": float(len(self.truth)), "curves_all": float(every.sum())}

        def add(key, radius, low, high, rows):
            ok = rows & np.isfinite(radius)
            if ok.any():
                inside = float(np.mean((low[ok] <= self.truth[ok]) & (self.truth[ok] <= high[ok])))
                out[f"coverage_68{key}"] = inside
                out[f"coverage_68{key}_error"] = math.sqrt(inside * (1 - inside) / ok.sum())
                out[f"rms_relative_error{key}"] = _rms(radius[ok] / self.truth[ok] - 1)

        for suffix, rows in (("", np.ones(len(self.truth), bool)), ("_all", every)):
            add(suffix, self.radius, self.low, self.high, rows)
            add(f"_naive{suffix}", self.naive_radius, self.naive_low, self.naive_high, rows)
            for k, name in enumerate(self.names):
                add(f"_{name}{suffix}", self.calibrated[:, k], self.calibrated_low[:, k],
                    self.calibrated_high[:, k], rows)
                ok = rows & np.isfinite(self.raw[:, k])
                raw = _rms(self.raw[ok, k] / self.truth[ok] - 1)
                out[f"raw_rms_relative_error_{name}{suffix}"] = raw
        return out


class Consensus:
    """Calibrated estimators, combined; made by :meth:`calibrate` or :meth:`simulated`."""

    def __init__(self, estimators: Sequence[Estimator], calibration: Calibration, q: np.ndarray,
                 prior: CurvePrior | None = None) -> None:
        self.estimators = list(estimators)
        self.calibration, self.q, self.prior = calibration, np.asarray(q, np.float64), prior

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.estimators)

    @classmethod
    def calibrate(cls, estimators: Sequence[Estimator | str], curves: CurveSet, truths: np.ndarray,
                  prior: CurvePrior | None = None) -> Consensus:
        """Calibrate ``estimators`` (objects, built-in names) on ``curves`` of radii ``truths`` (A).

        The combination's prior is uniform in ln R over ``prior.radius`` when the
        curves were drawn from ``prior``, else over the range of ``truths``.
        """
        chosen = chosen_estimators(estimators)
        truths = np.asarray(truths, dtype=np.float64)
        if truths.shape != (len(curves),) or not np.all(np.isfinite(truths) & (truths > 0)):
            raise UserError(f"truths: must be one radius in A > 0 per curve ({len(curves)}); "
                            f"received shape {truths.shape}"
                            + (" with values not finite and > 0" if truths.ndim == 1
                               and len(truths) == len(curves) else ""))
        if len(curves) < MIN_CURVES:
            raise UserError(f"curves: at least {MIN_CURVES} calibration curves are needed; "
                            f"received {len(curves)}")
        log_estimates = np.empty((len(curves), len(chosen)))
        for k, one in enumerate(chosen):
            radius, _, failures = one.estimate_many(curves)
            log_estimates[:, k] = np.log(radius)
            if np.isfinite(radius).sum() < MIN_AVAILABLE:
                first = next(iter(failures.values()), "")
                raise UserError(f"estimators.{one.name}: gave a radius on "
                                f"{np.isfinite(radius).sum()} of {len(curves)} calibration curves; "
                                f"at least {MIN_AVAILABLE} are needed (first failure: {first})")
        span = np.log(prior.radius) if prior else (np.log(truths).min(), np.log(truths).max())
        span = (float(span[0]), float(span[1]))
        calibration = fit_calibration(log_estimates, np.log(truths), span)
        return cls(chosen, calibration, curves.q, prior)

    @classmethod
    def simulated(cls, estimators: Sequence[Estimator | str], size: int = 500, seed: int = 1,
                  prior: CurvePrior | None = None) -> Consensus:
        """Calibrate on ``size`` curves drawn from ``prior`` (:func:`simulate_curves`).

        The name ``network`` trains one on the fly (:func:`train_network`, same prior, seed + 1).
        """
        prior = prior or CurvePrior()
        if not isinstance(estimators, (str, Estimator)):
            estimators = [train_network(prior, seed=seed + 1) if e == "network" else e
                          for e in estimators]
        curves = simulate_curves(size, seed, prior)
        return cls.calibrate(estimators, curves, curves.radius, prior)

    def combine(self, q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray,
                prior: str = "calibration") -> ConsensusEstimate:
        """One curve's consensus radius: q (1/A), I, dI (cm^-1) float[n] on the calibration grid."""
        raw, own, failures = self._estimates(self._curve(q, intensity, sigma))
        said = {k: f[0] for k, f in failures.items() if 0 in f}
        return self._estimate(raw[0], own[0], said, prior)

    def naive(self, q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray) -> ConsensusEstimate:
        """Raw estimates weighted by their own sigmas (1 / sigma^2): over-confident shortcut."""
        raw, own, _ = self._estimates(self._curve(q, intensity, sigma))
        radius, spread = (float(v[0]) for v in _naive(raw, own))
        if not np.isfinite(radius):
            raise UserError("naive: no estimator gave a radius with its own sigma for this curve")
        readings = {name: Reading(name, _number(raw[0, k]), _number(own[0, k]))
                    for k, name in enumerate(self.names)}
        interval = (radius - spread, radius + spread)
        return ConsensusEstimate(radius, spread, interval, spread / radius, readings)

    def assess(self, curves: CurveSet, truths: np.ndarray,
               prior: str = "calibration") -> Assessment:
        """Combine each test curve of radii ``truths`` (A); see :meth:`Assessment.summary`."""
        self._check_grid(curves.q)
        raw, own, _ = self._estimates(curves)
        consensus = np.full((len(curves), 3), np.nan)
        for i in range(len(curves)):
            if np.isfinite(raw[i]).any():
                estimate = self._estimate(raw[i], own[i], {}, prior)
                consensus[i] = estimate.radius, *estimate.interval
        naive, spread = _naive(raw, own)
        t, sd = self.calibration.single(np.log(raw))
        return Assessment(self.names, np.asarray(truths, dtype=np.float64), *consensus.T, naive,
                          naive - spread, naive + spread, raw, np.exp(t), np.exp(t - sd),
                          np.exp(t + sd))

    def _curve(self, q, intensity, sigma) -> CurveSet:
        from quanta.inference.curve import check_curve

        curve = check_curve(q, intensity, sigma, "curve")
        if curve.sigma is None:
            raise UserError("curve: dI is needed (the estimators weight by it)")
        self._check_grid(curve.q)
        return CurveSet(curve.q, curve.intensity[None], curve.sigma[None])

    def _check_grid(self, q: np.ndarray) -> None:
        if len(q) != len(self.q) or not np.allclose(q, self.q, rtol=1e-4, atol=0):
            raise UserError(f"curve: q must be the calibration curves' grid ({grid_text(self.q)}); "
                            f"received {grid_text(q)}")

    def _estimates(self, curves: CurveSet) -> tuple[np.ndarray, np.ndarray, dict[int, dict]]:
        """Raw radii and own sigmas [N, K] (NaN: missing), failures {estimator: {row: message}}."""
        raw, own = np.empty((2, len(curves), len(self.estimators)))
        failures = {}
        for k, one in enumerate(self.estimators):
            raw[:, k], own[:, k], failures[k] = one.estimate_many(curves)
        return raw, own, failures

    def _estimate(self, raw: np.ndarray, own: np.ndarray, failures: dict[int, str],
                  prior: str) -> ConsensusEstimate:
        if prior not in PRIORS:
            raise UserError(f"prior: must be one of {', '.join(PRIORS)}; received {shown(prior)}")
        if not np.isfinite(raw).any():
            raise UserError(f"curve: no estimator gave a radius ({'; '.join(failures.values())})")
        z = np.log(raw)
        grid, density = self.calibration.posterior(z, prior)
        levels = [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2]
        low, median, high = np.interp(levels, cdf(grid, density), grid)
        log_sigma = math.sqrt(_variance(grid, grid, density))
        sigma = math.sqrt(_variance(np.exp(grid), grid, density))
        t, sd = self.calibration.single(z)
        readings = {}
        for k, name in enumerate(self.names):
            if np.isfinite(raw[k]):
                interval = (float(np.exp(t[k] - sd[k])), float(np.exp(t[k] + sd[k])))
                readings[name] = Reading(name, float(raw[k]), _number(own[k]), float(np.exp(t[k])),
                                         interval)
            else:
                readings[name] = Reading(name, failure=failures.get(k, "no radius"))
        interval = (float(np.exp(low)), float(np.exp(high)))
        return ConsensusEstimate(float(np.exp(median)), sigma, interval, log_sigma, readings)

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (no pickle); copies a network trained on the fly."""
        path = Path(path)
        if not path.parent.is_dir():
            raise UserError(f"{path}: its folder {path.parent} does not exist")
        record = {"format": FORMAT, "version": 1,
                  "estimators": [e.to_json(path) for e in self.estimators],
                  "calibration": self.calibration.to_json(), "q": self.q.tolist(),
                  "prior": None if self.prior is None else self.prior.to_json()}
        path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, estimators: Sequence[Estimator] = ()) -> Consensus:
        """Read a saved calibration; custom estimators (not built in, no network) are passed in."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        given = {e.name: e for e in estimators}
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise UserError(f"{path}: not a saved consensus calibration "
                                f"(no \"format\": \"{FORMAT}\")")
            q = np.asarray(record["q"], dtype=np.float64)
            chosen = [_reloaded(entry, path, q, given) for entry in record["estimators"]]
            calibration = Calibration.from_json(record["calibration"], len(chosen))
            prior = record.get("prior")
            if prior is not None:
                prior = CurvePrior(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in prior.items()})
            return cls(chosen, calibration, q, prior)
        except UserError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise UserError(f"{path}: a damaged consensus calibration "
                            f"({first_line(error)})") from None


def _reloaded(entry: dict[str, Any], path: Path, q: np.ndarray,
              given: dict[str, Estimator]) -> Estimator:
    name, kind = str(entry["name"]), str(entry["kind"])
    if name in given:
        return given[name]
    if kind in BUILT_IN:
        return Estimator(name, BUILT_IN[kind], kind=kind)
    if kind == "network":
        folder = path.parent / entry["run"]
        if not folder.is_dir():
            raise UserError(f"{path}: the run of estimator '{name}' is missing ({folder}); pass "
                            "it as estimators=[NetworkEstimator(run, q)]")
        return NetworkEstimator(folder, q, entry.get("target", "log_radius"), name=name)
    raise UserError(f"{path}: estimator '{name}' is a custom function; pass it as "
                    f"estimators=[Estimator({name!r}, function)]")


def _naive(raw: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted mean of raw radii [N, K], its sigma: float64[N] (NaN: none)."""
    usable = np.isfinite(raw) & np.isfinite(own) & (own > 0)
    weight = np.where(usable, 1.0 / np.where(usable, own, 1.0) ** 2, 0.0)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weight * np.where(usable, raw, 0.0)).sum(axis=1) / total, 1.0 / np.sqrt(total)


def _variance(values: np.ndarray, grid: np.ndarray, density: np.ndarray) -> float:
    mean = np.trapezoid(values * density, grid)
    return max(float(np.trapezoid((values - mean) ** 2 * density, grid)), 0.0)


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values ** 2))) if len(values) else math.nan


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
