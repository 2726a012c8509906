"""Embedding: reduce the inputs to a few coordinates without labels (an unsupervised task)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quanta.errors import UserError
from quanta.tasks.autoencoding import reconstruction_error
from quanta.tasks.base import Task, require_integer_labels
from quanta.tasks.evaluation import EMBEDDING


class Embedding(Task):
    """Dimensionality reduction: no targets needed; explained variance, and a 2D map of the samples coloured by label

    A method for this task predicts the codes ``[N, k]`` of every sample:
    ``pca`` its principal components; a network whose model has
    ``encode(x)`` (an autoencoder) learns them by reconstructing its inputs,
    ``model(x)`` against the standardised ``x`` (mean squared error per
    sample, weighted), and its codes are ``encode(x)``. The data need no
    labels; when they have some (``y``), they are used only to evaluate the
    embedding (``knn_accuracy``) and to colour its map in the report.
    """

    name = "embedding"
    evaluation = EMBEDDING
    monitor = "loss"
    higher_is_better = False

    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        return require_integer_labels(y, where, "class indices, used only to evaluate and colour "
                                                "the embedding")

    def out_features(self, y: np.ndarray | None) -> int:
        """The codes' width a model takes when it has no size of its own: 2, a map."""
        return 2

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """``[N, k + 1]``: the codes ``encode(x)`` and, last, each sample's reconstruction error."""
        if not callable(getattr(model, "encode", None)):
            raise UserError(f"task 'embedding': model {type(model).__name__} has no encode(x); a "
                            "network learns an embedding by encoding and reconstructing its "
                            "inputs (an autoencoder), or use method pca")
        x = batch["x"]
        codes = model.encode(x).reshape(len(x), -1)
        reconstruction = model(*(batch[name] for name in inputs))
        if reconstruction.shape != x.shape:
            raise UserError(f"task 'embedding': model {type(model).__name__} returns shape "
                            f"{tuple(reconstruction.shape[1:])} per sample, not the inputs' "
                            f"{tuple(x.shape[1:])}; its forward must reconstruct x")
        error = reconstruction_error(reconstruction, x, batch.get("mask"))  # as task autoencoding's
        return torch.cat([codes.float(), error[:, None]], dim=1)

    def loss(self, output: torch.Tensor, target: Any = None, weight: torch.Tensor | None = None,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """The (weighted) mean reconstruction error of the batch."""
        error = output[:, -1]
        if weight is None:
            return error.mean()
        return (weight * error).sum() / weight.sum()

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        return output[:, :-1]
