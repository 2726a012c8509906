"""One scanning campaign: choose points, measure, read the feature, log, map, until the budget ends.

A campaign is one strategy (``gp``, ``raster`` or ``random``,
:mod:`quanta.autonomous.strategies`) on one sample with one seed. Each
measurement costs the seconds of moving the stage there and exposing
(:class:`~quanta.autonomous.beamline.Beamline`); the campaign stops after
``budget.measurements``, or before the measurement that would pass
``budget.seconds``. Every ``error.every`` measurements (and after the last)
the map is rebuilt from what was measured, the same way for every strategy
(:mod:`quanta.autonomous.reconstruction`), and its error recorded.

Every measurement is appended to a JSON-lines log as it is made
(:class:`quanta.bayesopt.log.EvaluationLog`: a settings line, then one line
per measurement with its point, feature, standard error, exposure, seconds,
elapsed time and map error; synced line by line). ``resume=True`` replays the
logged measurements (nothing is measured again) and continues from the first
one missing, with the same result as an uninterrupted campaign: every choice,
every count and every fit is seeded by (seed, step) or (seed, measurement)
alone. A log written with other settings is refused in one line.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quanta.autonomous.beamline import Beamline
from quanta.autonomous.config import AutonomousConfig, autonomous_config
from quanta.autonomous.features import read_feature
from quanta.autonomous.reconstruction import Map, map_error, reconstruct, reference_field
from quanta.autonomous.sample import Sample, make_sample
from quanta.autonomous.strategies import gp_batch, random_point, raster_plan, short_path
from quanta.bayesopt.log import EvaluationLog, read_log
from quanta.bayesopt.loop import sobol_design, step_seed
from quanta.errors import UserError, unknown_name

COUNTS, MAPS = 0xC0, 0x3A  # purpose tags of the counting and map-fit seeds
START = np.zeros(2)  # mm: where the stage stands before the first move


@dataclass
class Measurement:
    """One logged measurement: where, what was read (None: failed), what it cost (seconds)."""

    index: int
    step: int
    point: np.ndarray  # (2,) mm
    feature: float | None  # A
    sigma: float | None  # A, its standard error
    exposure: float
    seconds: float  # moving there + exposure
    elapsed: float  # seconds since the campaign started, this measurement included
    map_error: float | None = None  # A, when the map was rebuilt after this measurement

    def record(self) -> dict[str, Any]:
        return {"step": self.step, "index": self.index, "point": self.point.tolist(),
                "feature": self.feature, "sigma": self.sigma, "exposure_s": self.exposure,
                "seconds": self.seconds, "elapsed_s": self.elapsed, "map_error": self.map_error}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Measurement:
        return cls(int(record["index"]), int(record["step"]), np.asarray(record["point"], float),
                   record["feature"], record["sigma"], float(record["exposure_s"]),
                   float(record["seconds"]), float(record["elapsed_s"]), record["map_error"])


@dataclass
class Campaign:
    """A finished (or stopped) campaign: its measurements, map errors, final map and reference.

    ``errors`` holds ``(measurements, elapsed seconds, map error A)`` rows, one per rebuilt map.
    """

    strategy: str
    seed: int
    sample: Sample
    reference: np.ndarray  # (grid, grid) A
    measurements: list[Measurement] = field(default_factory=list)
    final_map: Map | None = None

    @property
    def points(self) -> np.ndarray:
        """Every measured point in the order measured (the beam path), shape ``(n, 2)`` mm."""
        return np.array([m.point for m in self.measurements]).reshape(-1, 2)

    @property
    def errors(self) -> np.ndarray:
        """Rows ``(measurements, elapsed s, map error A)``, shape ``(k, 3)``."""
        rows = [(m.index + 1, m.elapsed, m.map_error) for m in self.measurements
                if m.map_error is not None]
        return np.array(rows, dtype=float).reshape(-1, 3)

    @property
    def failed(self) -> int:
        """Measurements whose feature could not be read."""
        return sum(m.feature is None for m in self.measurements)

    def measurements_to(self, target: float) -> int | None:
        """The measurements after which the map error first was ``<= target`` (None: never)."""
        reached = self.errors[self.errors[:, 2] <= target]
        return int(reached[0, 0]) if len(reached) else None

    def seconds_to(self, target: float) -> float | None:
        """The elapsed seconds when the map error first was ``<= target`` (None: never)."""
        reached = self.errors[self.errors[:, 2] <= target]
        return float(reached[0, 1]) if len(reached) else None


def beamline_of(config: AutonomousConfig) -> Beamline:
    """The :class:`Beamline` of the ``beamline:`` section."""
    b = config.beamline
    return Beamline(q_min=b.q_min, q_max=b.q_max, points=b.points, dq_over_q=b.dq_over_q,
                    scale=b.scale, background=b.background, flux_per_second=b.flux_per_second,
                    exposure=b.exposure_s, motor_speed=b.motor_speed_mm_s, overhead=b.overhead_s)


def sample_of(config: AutonomousConfig, seed: int) -> Sample:
    """The sample of the ``sample:`` section (its own seed, or the campaign's)."""
    s = config.sample
    return make_sample(s.extent_mm, s.radius_A, s.polydispersity, s.bumps, s.width,
                       seed if s.seed is None else s.seed)


def campaign_settings(config: AutonomousConfig, strategy: str, seed: int) -> dict[str, Any]:
    """The settings that decide a campaign's measurements, flat (``beamline.exposure_s``)."""
    raw = json.loads(config.model_dump_json(exclude={"strategies", "seeds"}))
    flat: dict[str, Any] = {"strategy": strategy, "seed": seed}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[key] = value
    return flat


def run_campaign(config: AutonomousConfig | dict[str, Any] | None = None, *, strategy: str = "gp",
                 seed: int = 0, log: str | Path | None = None, resume: bool = False,
                 callback: Callable[[Campaign, Measurement], None] | None = None) -> Campaign:
    """Run (or resume) one campaign of ``strategy`` with ``seed``.

    Args:
        config: an :class:`~quanta.autonomous.config.AutonomousConfig` or its mapping
            (the YAML file's keys); None takes every default.
        strategy: ``gp``, ``raster`` or ``random``.
        seed: decides the sample (unless ``sample.seed`` is set), the counts and every choice.
        log: a JSON-lines file receiving every measurement as it is made.
        resume: continue the campaign of ``log`` (same settings), replaying what it holds.
        callback: called after each measurement (replayed ones too).
    """
    config = autonomous_config(config)
    if strategy not in ("gp", "raster", "random"):
        raise unknown_name("strategy", str(strategy), ("gp", "raster", "random"))
    if resume and log is None:
        raise UserError("resume: needs the log of the campaign to continue (log=...)")
    settings = campaign_settings(config, strategy, seed)
    path = None if log is None else Path(log)
    logged = [Measurement.from_record(r) for r in read_log(path, settings)] if resume else []
    writer = EvaluationLog(path)
    if not resume:
        writer.start(settings)

    beamline, sample = beamline_of(config), sample_of(config, seed)
    grid, budget = config.error.grid, config.budget
    reference = _reference(config, seed)
    campaign = Campaign(strategy, seed, sample, reference)
    raster = raster_plan(sample.bounds, budget.measurements) if strategy == "raster" else None
    here, elapsed, step = START.copy(), 0.0, 0
    by_step: dict[int, list[Measurement]] = {}
    for measurement in logged:
        by_step.setdefault(measurement.step, []).append(measurement)

    while len(campaign.measurements) < budget.measurements:
        done = len(campaign.measurements)
        size = _step_size(config, strategy, step, done)
        replayed = by_step.get(step, [])
        if len(replayed) == size or (replayed and step + 1 in by_step):
            planned = np.array([m.point for m in replayed])  # the whole step is in the log
        else:
            planned = _plan(config, campaign, beamline, step, size, here, raster)
        stopped = False
        for j, point in enumerate(planned):
            index = len(campaign.measurements)
            if index >= budget.measurements:
                break
            seconds = beamline.seconds(here, point)
            if budget.seconds is not None and elapsed + seconds > budget.seconds:
                stopped = True
                break
            if j < len(replayed):
                measurement = replayed[j]
                if not np.allclose(measurement.point, point, rtol=0, atol=1e-9):
                    raise UserError(f"log: {path} measurement {index} was at "
                                    f"{measurement.point.tolist()}, but the campaign now chooses "
                                    f"{point.tolist()}; start a new log")
            else:
                measurement = _measure(config, beamline, campaign, point, index, step, seconds,
                                       elapsed + seconds)
                writer.evaluation(measurement.record())
            campaign.measurements.append(measurement)
            here, elapsed = measurement.point, measurement.elapsed
            if callback is not None:
                callback(campaign, measurement)
        step += 1
        if stopped:
            break
    campaign.final_map = _final_map(campaign, grid, seed)
    return campaign


def _plan(config: AutonomousConfig, campaign: Campaign, beamline: Beamline, step: int, size: int,
          here: np.ndarray, raster: np.ndarray | None) -> np.ndarray:
    """The points (k, 2) mm that ``step`` of the campaign's strategy chooses, in visiting order."""
    bounds, seed = campaign.sample.bounds, campaign.seed
    if campaign.strategy == "raster":
        return raster
    if campaign.strategy == "random":
        return random_point(bounds, seed, len(campaign.measurements))
    if step == 0:
        return short_path(here, sobol_design(bounds, size, seed))
    ok = [m for m in campaign.measurements if m.feature is not None]
    return gp_batch(np.array([m.point for m in ok]).reshape(-1, 2),
                    np.array([m.feature for m in ok]), np.array([m.sigma for m in ok]),
                    bounds, here, size, beamline, candidates=config.gp.candidates,
                    cost_aware=config.gp.cost_aware, seed=step_seed(seed, step))


def _step_size(config: AutonomousConfig, strategy: str, step: int, done: int) -> int:
    """Measurements planned in ``step`` after ``done`` measurements."""
    left = config.budget.measurements - done
    if strategy == "raster":
        return config.budget.measurements if step == 0 else 0
    if strategy == "random":
        return 1
    return min(config.gp.initial if step == 0 else config.gp.batch, left)


def _measure(config: AutonomousConfig, beamline: Beamline, campaign: Campaign, point: np.ndarray,
             index: int, step: int, seconds: float, elapsed: float) -> Measurement:
    """Measure at ``point``, read the feature and, at a map checkpoint, the map error."""
    rng = np.random.default_rng(np.random.SeedSequence([campaign.seed, index, COUNTS]))
    read = read_feature(config.feature, beamline.measure(campaign.sample, point, rng))
    value, sigma = (None, None) if read is None else read
    measurement = Measurement(index, step, np.asarray(point, float), value, sigma,
                              beamline.exposure, seconds, elapsed)
    count = index + 1
    if count % config.error.every == 0 or count == config.budget.measurements:
        rebuilt = _map(campaign.measurements + [measurement], config.error.grid, campaign)
        measurement.map_error = map_error(rebuilt, campaign.reference)
    return measurement


def _map(measurements: list[Measurement], grid: int, campaign: Campaign) -> Map | None:
    """The map rebuilt from ``measurements`` (their successful features)."""
    ok = [m for m in measurements if m.feature is not None]
    sequence = np.random.SeedSequence([campaign.seed, len(measurements), MAPS])
    seed = int(sequence.generate_state(1)[0])
    return reconstruct(np.array([m.point for m in ok]).reshape(-1, 2),
                       np.array([m.feature for m in ok]), np.array([m.sigma for m in ok]),
                       campaign.sample, grid, seed)


def _final_map(campaign: Campaign, grid: int, seed: int) -> Map | None:
    """The map after the last measurement (its error recorded if that was no checkpoint)."""
    if not campaign.measurements:
        return None
    final = _map(campaign.measurements, grid, campaign)
    last = campaign.measurements[-1]
    if last.map_error is None:
        last.map_error = map_error(final, campaign.reference)
    return final


def _reference(config: AutonomousConfig, seed: int) -> np.ndarray:
    """The reference field of this campaign's sample (cached: every strategy shares it)."""
    key = json.dumps([config.sample.model_dump(mode="json"),
                      config.beamline.model_dump(mode="json"),
                      config.feature, config.error.reference, config.error.grid,
                      seed if config.sample.seed is None else config.sample.seed])
    return _cached_reference(key).copy()


@functools.lru_cache(maxsize=16)
def _cached_reference(key: str) -> np.ndarray:
    sample_raw, beamline_raw, feature, reference, grid, seed = json.loads(key)
    config = AutonomousConfig.model_validate({"sample": sample_raw, "beamline": beamline_raw})
    return reference_field(sample_of(config, seed), beamline_of(config), feature, reference, grid)
