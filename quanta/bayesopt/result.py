"""What an optimisation returns: every evaluation, the best one, and a record per step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepRecord:
    """One step of an optimisation: the initial design (step 0) or one acquired batch.

    ``indices`` are the rows of :attr:`OptimisationResult.points` evaluated in
    this step; ``acquisition_value`` is the acquisition of the jointly chosen
    batch (log expected improvement for ``ei``, the upper confidence bound for
    ``ucb``, the log-determinant of the posterior covariance for
    ``max_variance``; None for the initial design); the times are wall-clock
    seconds spent fitting the Gaussian process, optimising the acquisition and
    evaluating the function.
    """

    step: int
    indices: tuple[int, ...]
    acquisition_value: float | None
    fit_seconds: float
    acquisition_seconds: float
    evaluation_seconds: float


@dataclass
class OptimisationResult:
    """The evaluated points and values of an optimisation, in evaluation order.

    ``points`` has shape ``(n, d)`` in the user's units, ``values`` shape
    ``(n,)``; ``maximise`` says whether the best value is the largest or the
    smallest.
    """

    points: np.ndarray
    values: np.ndarray
    maximise: bool
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def best_index(self) -> int:
        """The row of the best evaluation (the first one, among equals)."""
        return int(np.argmax(self.values) if self.maximise else np.argmin(self.values))

    @property
    def best_point(self) -> np.ndarray:
        """The parameters of the best evaluation, shape ``(d,)``."""
        return self.points[self.best_index]

    @property
    def best_value(self) -> float:
        """The best value measured."""
        return float(self.values[self.best_index])

    def best_so_far(self) -> np.ndarray:
        """The best value after each evaluation, shape ``(n,)`` (for regret curves)."""
        running = np.maximum.accumulate if self.maximise else np.minimum.accumulate
        return running(self.values)

    def regret(self, optimum: float) -> np.ndarray:
        """Simple regret ``|best so far - optimum|`` after each evaluation, shape ``(n,)``."""
        return np.abs(self.best_so_far() - optimum)
