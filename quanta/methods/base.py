"""The contract of a classical method: fit, predict, save, load (see ``quanta.estimators``).

Subclasses take their hyperparameters as keyword arguments with defaults and
only store them in ``__init__``; what is learned in ``fit`` ends in ``_``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from quanta.data.dataset import Dataset
from quanta.tasks.base import Task


class Method:
    """Base class of classical methods (boosted trees, SVMs, ...)."""

    #: per-round records (like a network's epochs), filled by ``fit`` if the method has rounds
    history: list[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every subclass's ``fit`` learns from the labelled rows only, where its task hides labels
        (``semi_supervised``: its ``labelled_rows``); a classical method never sees ``y = -1``."""
        super().__init_subclass__(**kwargs)
        if "fit" in cls.__dict__:
            cls.fit = _on_labelled_rows(cls.__dict__["fit"])

    def fit(self, train: Dataset, valid: Dataset | None, task: Task, **context: Any) -> Method:
        """Fit for ``task``; ``context`` (directory, callbacks, resume, label) as a network gets it.

        ``callbacks`` get ``on_fit_start`` and ``on_fit_end`` (see :meth:`notify`), and
        ``on_epoch_end`` after each round of a method that has rounds.
        """
        raise NotImplementedError

    def predict(self, data: Dataset) -> np.ndarray:
        """Task scores, in the same form a network's ``predict`` returns."""
        raise NotImplementedError

    def save(self, directory: str | Path) -> Path:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: str | Path) -> Method:
        raise NotImplementedError

    @classmethod
    def check_entry(cls, params: dict[str, Any], where: str, entry: dict[str, Any],
                    earlier: list[dict[str, Any]]) -> None:
        """Refuse an entry that does not fit its experiment, before anything is trained.

        ``params`` are the entry's validated parameters (``where`` names them in
        messages), ``entry`` its ``name`` and ``data``, and ``earlier`` the resolved
        entries before it; an ensemble checks that its members are among them.
        """

    @classmethod
    def check_data(cls, train: Any) -> None:
        """Refuse a training part this method cannot learn from (e.g. a streamed one), before any
        method of the experiment trains; the default accepts every part."""

    @staticmethod
    def notify(callbacks: list | None, hook: str, *args: Any) -> None:
        """Call ``hook`` of every training callback (``quanta.train.callbacks``), as a network's trainer does.

        A classical method passes itself where a network passes its trainer;
        its rounds (boosted trees) are the epochs: ``on_epoch_end(method, round, record)``.
        """
        for callback in callbacks or []:
            getattr(callback, hook)(*args)

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit first")


def _on_labelled_rows(fit):
    """``fit`` given only the rows its task knows the labels of (``task.labelled_rows``, if any)."""
    @functools.wraps(fit)
    def labelled_fit(self, train, valid=None, task=None, **context):
        rows = getattr(task, "labelled_rows", None)
        if rows is not None:
            train, valid = rows(train), rows(valid)
        return fit(self, train, valid, task, **context)

    return labelled_fit


def predict_in_chunks(data: Dataset, predict) -> np.ndarray:
    """``predict`` applied to a streamed part chunk by chunk, concatenated in the part's order."""
    scores = [predict(chunk) for chunk in data.in_chunks()]
    return np.concatenate(scores) if scores else np.zeros(0, np.float32)


def table(data: Dataset) -> np.ndarray:
    """Inputs as a 2-D table [N, F] (images and sets are flattened)."""
    x = data.x
    return x.reshape(len(x), -1) if x.ndim > 2 else x
