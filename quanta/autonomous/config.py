"""The autonomous experiment's YAML file, validated once into typed settings.

Sections (every key optional; unknown keys are refused naming the closest)::

    sample:   {extent_mm: [10, 10], radius_A: [30, 120], polydispersity: [0.05, 0.2],
               bumps: 10, width: 0.12, seed: null}      # null: the campaign's seed
    beamline: {q_min: 0.003, q_max: 0.3, points: 80, dq_over_q: 0.0, scale: 0.01,
               background: 0.001, flux_per_second: 2000, exposure_s: 1.0,
               motor_speed_mm_s: 2.0, overhead_s: 0.5}
    feature: guinier_radius            # or first_minimum_radius, fitted_radius
    strategies: [gp, raster, random]
    budget:   {measurements: 150, seconds: null}
    gp:       {initial: 8, batch: 4, candidates: 512, cost_aware: true}
    error:    {grid: 50, every: 5, target_A: 2.5, reference: feature}
    seeds: [0, 1, 2, 3, 4]

Errors are one line naming the field (``budget.measurements: input should be
greater than or equal to 2, received 0``), through the experiment file's own
helper (:func:`quanta.config.first_error`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quanta.errors import UserError, closest

Positive = Annotated[float, Field(gt=0)]
Range = tuple[Positive, Positive]
#: the scanning strategies by name
STRATEGIES = ("gp", "raster", "random")


class Section(BaseModel):
    """A mapping of known keys: an unknown one is refused naming the closest."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            for key in raw:
                if key not in cls.model_fields:
                    guess = closest(str(key), cls.model_fields)
                    hint = f"; did you mean '{guess}'?" if guess else ""
                    raise ValueError(f"unknown key '{key}'{hint} allowed: "
                                     + ", ".join(cls.model_fields))
        return raw

    @staticmethod
    def _ordered(pair: tuple[float, float], name: str) -> None:
        if not pair[0] < pair[1]:
            raise ValueError(f"{name} must be [low, high] with low < high")


class SampleConfig(Section):
    extent_mm: Range = (10.0, 10.0)
    radius_A: Range = (30.0, 120.0)
    polydispersity: tuple[Annotated[float, Field(ge=0, le=0.5)],
                          Annotated[float, Field(ge=0, le=0.5)]] = (0.05, 0.2)
    bumps: Annotated[int, Field(ge=1, le=100)] = 10
    width: Annotated[float, Field(gt=0, le=2)] = 0.12  # a bump's width / the larger extent
    seed: Annotated[int, Field(ge=0)] | None = None  # None: each campaign seed draws its own sample

    @model_validator(mode="after")
    def _ranges(self) -> SampleConfig:
        self._ordered(self.radius_A, "radius_A")
        self._ordered(self.polydispersity, "polydispersity")
        return self


class BeamlineConfig(Section):
    q_min: Positive = 0.003
    q_max: Positive = 0.3
    points: Annotated[int, Field(ge=8, le=10_000)] = 80
    dq_over_q: Annotated[float, Field(ge=0, le=0.2)] = 0.0
    scale: Positive = 0.01  # volume fraction x (contrast / 1e-6 A^-2)^2
    background: Annotated[float, Field(ge=0)] = 0.001  # cm^-1
    flux_per_second: Positive = 2000.0  # counts per cm^-1 per q bin per second
    exposure_s: Positive = 1.0
    motor_speed_mm_s: Positive = 2.0
    overhead_s: Annotated[float, Field(ge=0)] = 0.5

    @model_validator(mode="after")
    def _q_range(self) -> BeamlineConfig:
        self._ordered((self.q_min, self.q_max), "q_min, q_max")
        return self


class BudgetConfig(Section):
    measurements: Annotated[int, Field(ge=2, le=100_000)] = 150
    seconds: Positive | None = None  # stop before the measurement that would pass it


class GPConfig(Section):
    initial: Annotated[int, Field(ge=3)] = 8  # Sobol points before the first fit
    batch: Annotated[int, Field(ge=1, le=64)] = 4  # points chosen jointly per step
    candidates: Annotated[int, Field(ge=16, le=100_000)] = 512  # Sobol candidates per choice
    cost_aware: bool = True  # divide the variance by the seconds of moving + measuring


class ErrorConfig(Section):
    grid: Annotated[int, Field(ge=4, le=500)] = 50
    every: Annotated[int, Field(ge=1)] = 5  # measurements between two map errors
    target_A: Positive = 2.5
    reference: Literal["feature", "radius"] = "feature"


class AutonomousConfig(Section):
    """The whole file: sample, beamline, feature, strategies, budget, GP, map error, seeds."""

    sample: SampleConfig = SampleConfig()
    beamline: BeamlineConfig = BeamlineConfig()
    feature: Literal["guinier_radius", "first_minimum_radius", "fitted_radius"] = "guinier_radius"
    strategies: Annotated[list[Literal["gp", "raster", "random"]], Field(min_length=1)] = \
        ["gp", "raster", "random"]
    budget: BudgetConfig = BudgetConfig()
    gp: GPConfig = GPConfig()
    error: ErrorConfig = ErrorConfig()
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = [0, 1, 2, 3, 4]

    @model_validator(mode="after")
    def _consistent(self) -> AutonomousConfig:
        if "gp" in self.strategies and self.gp.initial > self.budget.measurements:
            raise ValueError(f"gp.initial ({self.gp.initial}) must not exceed "
                             f"budget.measurements ({self.budget.measurements})")
        if len(set(self.strategies)) < len(self.strategies):
            raise ValueError("strategies must not repeat a name")
        if len(set(self.seeds)) < len(self.seeds):
            raise ValueError("seeds must not repeat a seed")
        return self


def autonomous_config(raw: Any) -> AutonomousConfig:
    """The validated settings of a raw mapping (or an :class:`AutonomousConfig` as it is)."""
    from quanta.config import first_error

    if isinstance(raw, AutonomousConfig):
        return raw
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError("autonomous: expected a mapping of keys (sample, beamline, feature, "
                        f"strategies, budget, gp, error, seeds), received {type(raw).__name__}")
    try:
        return AutonomousConfig.model_validate(raw)
    except ValidationError as error:
        raise first_error(error, raw, ("autonomous",)) from None


def read_autonomous_config(path: str | Path) -> AutonomousConfig:
    """The validated settings of a YAML file; one-line errors name the file or the field.

    The file is read as an experiment file is (:func:`quanta.config.read_mapping`: safe
    loading, aliases bounded, one-line YAML errors); an empty file takes every default.
    """
    from quanta.config import read_mapping

    path = Path(path)
    if path.is_file() and not path.read_bytes().strip():
        return autonomous_config({})
    keys = "sample, beamline, feature, strategies, budget, gp, error, seeds"
    return autonomous_config(read_mapping(path, "autonomous experiment", keys))
