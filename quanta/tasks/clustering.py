"""Clustering: group samples without labels (an unsupervised task)."""

from __future__ import annotations

import numpy as np

from quanta.errors import UserError
from quanta.tasks.base import Task, require_integer_labels
from quanta.tasks.evaluation import CLUSTERING


class Clustering(Task):
    """Unsupervised clustering: no targets needed; inertia and silhouette, adjusted Rand index against labels

    Methods for this task (``kmeans``) predict the squared distance of each
    sample to every cluster centre. The data need no labels; when they have
    some (``y``), they are used only to evaluate the clusters against them.
    """

    name = "clustering"
    evaluation = CLUSTERING
    monitor = "inertia"
    higher_is_better = False

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        return require_integer_labels(y, where, "class indices, used only to evaluate the clusters")

    def out_features(self, y: np.ndarray | None) -> int:
        raise UserError("task 'clustering' is learned by clustering methods (kmeans), not by networks")
