"""The scikit-learn base: one short subclass per scikit-learn learner.

A subclass names its learners by the kind of output the task wants
(:data:`quanta.tasks.evaluation.OUTPUTS`): a classifier for signal or class
probabilities, a regressor for values, a clusterer for clusters. The base
fits it on the table of inputs (with per-sample weights where the learner
takes them), predicts in the form a network's ``predict`` returns, and saves
the fitted learner **without pickle**: every attribute becomes JSON or an
array in a ``.npz`` file (loaded with ``allow_pickle=False``), and only
classes from scikit-learn's own modules are rebuilt on load.

A new method is a subclass that sets ``learners`` (and ``scaled`` when the
learner wants standardised inputs) and takes its hyperparameters as keyword
arguments, e.g. :mod:`quanta.methods.logistic_regression`.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.methods.base import Method, predict_in_chunks, table
from quanta.tasks.base import Task

STATE_FILE = "sklearn.json"
ARRAYS_FILE = "sklearn.npz"


class ScikitLearnMethod(Method):
    """Base of scikit-learn methods; subclasses set :attr:`learners` and their hyperparameters.

    Attributes:
        learners: ``{output kind: method name returning an unfitted learner}``.
        scaled: put a ``StandardScaler`` (fitted on the training split) before the learner.
    """

    learners: dict[str, str] = {}
    scaled: bool = False

    def __init__(self) -> None:
        self.history = []

    # -- fitting ---------------------------------------------------------------
    def _learner(self, task: Task) -> Any:
        output = task.evaluation.output
        if output not in self.learners:
            kinds = {"signal_probability": "binary", "class_probabilities": "multiclass", "values": "regression",
                     "clusters": "clustering"}
            allowed = ", ".join(kinds.get(k, k) for k in self.learners)
            raise UserError(f"{self.label()}: task '{task.name}' is not supported; allowed: {allowed}")
        learner = getattr(self, self.learners[output])()
        if self.scaled:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            learner = make_pipeline(StandardScaler(), learner)
        return learner

    @classmethod
    def label(cls) -> str:
        """The method's name in messages (its module's name, e.g. ``random_forest``)."""
        return cls.__module__.rsplit(".", 1)[-1]

    def fit(self, train: Dataset, valid: Dataset | None, task: Task, **context: Any) -> ScikitLearnMethod:
        """Fit the learner for ``task`` on the training split (``valid`` is not used)."""
        if train.streamed:
            raise UserError(f"{self.label()}: needs the training data in memory; set data.streaming: never")
        self.output_ = task.evaluation.output
        self.learner_ = self._learner(task)
        x = table(train)
        y = train.y if "y" in train and self.output_ != "clusters" else None
        weight = train.arrays.get("weight")
        final = self.learner_[-1] if self.scaled else self.learner_  # a pipeline routes by step name
        prefix = f"{self.learner_.steps[-1][0]}__" if self.scaled else ""
        fit_arguments: dict[str, Any] = {}
        if weight is not None and _takes_weights(final):
            fit_arguments[f"{prefix}sample_weight"] = weight
        if y is not None and self.output_ != "values":
            y = y.astype(np.int64)
        callbacks = context.get("callbacks")
        self.notify(callbacks, "on_fit_start", self)
        self.learner_.fit(x, y, **fit_arguments)
        self.notify(callbacks, "on_fit_end", self)
        return self

    def predict(self, data: Dataset) -> np.ndarray:
        """Signal probability [N], class probabilities [N, K], values or squared distances to centres."""
        self._check_fitted("learner_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        x = table(data)
        if self.output_ == "signal_probability":
            score = self.learner_.predict_proba(x)[:, 1]
        elif self.output_ == "class_probabilities":
            score = self.learner_.predict_proba(x)
        elif self.output_ == "clusters":
            score = self.learner_.transform(x) ** 2
        else:
            score = self.learner_.predict(x)
        return np.asarray(score, dtype=np.float32)

    # -- persistence: data only, never pickle -----------------------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted("learner_")
        arrays: dict[str, np.ndarray] = {}
        state = {"method": self.label(), "output": self.output_,
                 "params": {name: getattr(self, name) for name in inspect.signature(type(self)).parameters},
                 "learner": _encode(self.learner_, "learner", arrays)}
        path = Path(directory) / STATE_FILE
        np.savez(Path(directory) / ARRAYS_FILE, **arrays)
        path.write_text(json.dumps(state))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ScikitLearnMethod:
        path = Path(directory) / STATE_FILE
        if not path.exists():
            raise UserError(f"{path}: no saved {cls.label()} here")
        try:
            state = json.loads(path.read_text())
            with np.load(Path(directory) / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            method = cls(**state["params"])
            method.learner_ = _decode(state["learner"], arrays)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}: cannot read saved {cls.label()} ({error})") from None
        method.output_ = state["output"]
        return method


def _takes_weights(learner: Any) -> bool:
    return "sample_weight" in inspect.signature(learner.fit).parameters


def _encode(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON, its arrays stored in ``arrays`` under names derived from ``path``."""
    from sklearn.base import BaseEstimator

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return {"scalar": value.item(), "dtype": value.dtype.str}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"objects": [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(value.ravel())],
                    "shape": list(value.shape)}
        arrays[path] = value
        return {"array": path}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple":
                [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, f"{path}.{k}", arrays) for k, v in value.items()}}
    cls = type(value)
    if not cls.__module__.startswith("sklearn."):
        raise TypeError(f"{path}: cannot save a {cls.__module__}.{cls.__name__} without pickle")
    where = f"{cls.__module__}:{cls.__qualname__}"
    if isinstance(value, BaseEstimator):
        return {"estimator": where, "attributes": _encode(dict(vars(value)), path, arrays)["dict"]}
    rebuild, arguments, *rest = value.__reduce__()  # compiled scikit-learn objects (a tree's nodes)
    if rebuild is not cls:
        raise TypeError(f"{path}: cannot save a {where} without pickle")
    return {"object": where, "arguments": _encode(list(arguments), f"{path}.args", arrays),
            "state": _encode(rest[0] if rest else None, f"{path}.state", arrays)}


def _scikit_learn_class(where: str) -> type:
    module, _, name = where.partition(":")
    if not module.startswith("sklearn."):  # a saved file names only scikit-learn's own classes
        raise ValueError(f"refusing to rebuild {where}")
    return getattr(importlib.import_module(module), name)


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(value, dict):
        return value
    if "scalar" in value:
        return np.dtype(value["dtype"]).type(value["scalar"])
    if "array" in value:
        return arrays[value["array"]]
    if "objects" in value:
        out = np.empty(len(value["objects"]), dtype=object)
        out[:] = [_decode(v, arrays) for v in value["objects"]]
        return out.reshape(value["shape"])
    if "list" in value:
        return [_decode(v, arrays) for v in value["list"]]
    if "tuple" in value:
        return tuple(_decode(v, arrays) for v in value["tuple"])
    if "dict" in value:
        return {k: _decode(v, arrays) for k, v in value["dict"].items()}
    if "estimator" in value:
        cls = _scikit_learn_class(value["estimator"])
        learner = cls.__new__(cls)
        learner.__dict__.update({k: _decode(v, arrays) for k, v in value["attributes"].items()})
        return learner
    if "object" in value:
        obj = _scikit_learn_class(value["object"])(*_decode(value["arguments"], arrays))
        state = _decode(value["state"], arrays)
        if state is not None:
            obj.__setstate__(state)
        return obj
    raise ValueError(f"unknown saved value {sorted(value)}")


__all__ = ["ScikitLearnMethod"]
