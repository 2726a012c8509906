"""Reinforcement learning: agents learn from an environment's rewards; the return per episode."""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.errors import UserError
from quanta.tasks.base import Task
from quanta.tasks.evaluation import REINFORCEMENT


class Reinforcement(Task):
    """Reinforcement learning: agents learn from an environment's rewards; the return per episode

    The experiment's data is an environment (``data.source: gymnasium`` or
    ``beam_steering``) and its methods are agents (``agent: dqn``, ``ppo``, ...,
    :mod:`quanta.agents`). An agent's scores are the returns of its greedy
    policy on the valid or test episodes; the metrics are their mean (with its
    standard error), spread, median, worst and best; the monitored metric is
    the valid mean return, to maximise.
    """

    name = "reinforcement"
    evaluation = REINFORCEMENT
    monitor = "mean_return"
    higher_is_better = True

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        raise UserError(f"{where}: task 'reinforcement' learns from an environment's rewards, not "
                        "targets; give data.source gymnasium or beam_steering")

    def out_features(self, y: Any) -> int:
        return 0

    def check_split(self, parts: dict[str, Any]) -> None:
        if not getattr(parts["train"], "episodic", False):
            raise UserError("data.source: task 'reinforcement' needs an environment (gymnasium, "
                            "beam_steering), not a data set")
