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
arguments, e.g. :mod:`quanta.methods.logistic_regression`. A learner may be a
scikit-learn ``Pipeline`` (a feature map before a linear model); per-sample
weights then reach its last step.

Every subclass also takes the input encodings ``one_hot`` and
``bag_of_words``, declared once in :mod:`quanta.methods.encoding` (keyword-only):
:meth:`ScikitLearnMethod.__init_subclass__` adds them to each subclass's
``__init__`` and to its signature, so the registry validates them, a config
records them and a saved method keeps them like the subclass's own
hyperparameters.

Saved objects are of four forms: estimators (their ``__getstate__``, rebuilt
with ``__setstate__``), compiled objects whose class takes constructor
arguments (a tree's nodes), other scikit-learn objects rebuilt as pickle's
protocol 2 would (``cls.__new__(cls)`` and their state: a neighbours' search
tree, a calibrator, a histogram tree's nodes), NumPy random generators
(bit generator name and state) and NumPy scalar types (an encoder's output
dtype, by its dtype string). A file names classes only, never a function;
a class that is not scikit-learn's own is refused. The input encodings
(``inputs``) and a subclass's other fitted attributes (:attr:`fitted`) are
saved alike, beside the learner.

A method that cannot learn from a streamed training part refuses it with
:func:`needs_memory`: the part's rows and size, and the methods that can.
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.methods.base import Method, predict_in_chunks, table
from quanta.methods.encoding import InputEncoding, with_encodings
from quanta.tasks.base import Task

STATE_FILE = "sklearn.json"
ARRAYS_FILE = "sklearn.npz"
#: NumPy's bit generators, the only ones a saved random generator may name
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ScikitLearnMethod(Method):
    """Base of scikit-learn methods; subclasses set :attr:`learners` and their hyperparameters.

    Attributes:
        learners: ``{output kind: method name returning an unfitted learner}``.
        scaled: put a ``StandardScaler`` (fitted on the training split) before the learner.
        one_target: the regressor fits one target; several target columns are refused.
        fitted: fitted attributes saved beside ``learner_`` and ``inputs_`` (scikit-learn
            objects, arrays or plain values), for a subclass that learns more.
        streams: the method learns from a training part streamed from disk (``partial_fit``);
            the others refuse one (:meth:`check_data`).
    """

    learners: dict[str, str] = {}
    scaled: bool = False
    one_target: bool = False
    fitted: tuple[str, ...] = ()
    streams: bool = False

    def __init__(self) -> None:
        self.history = []
        self.one_hot: tuple[str, ...] = ()
        self.bag_of_words: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every subclass's ``__init__`` the input encodings (``encoding.PARAMETERS``)."""
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__ = with_encodings(vars(cls)["__init__"])

    # -- fitting ---------------------------------------------------------------------------
    def _bare_learner(self, task: Task) -> Any:
        """The unfitted learner for ``task``'s output, without a scaler."""
        output = task.evaluation.output
        if output not in self.learners:
            kinds = {"signal_probability": "binary", "class_probabilities": "multiclass", "values": "regression",
                     "clusters": "clustering", "codes": "embedding"}
            allowed = ", ".join(kinds.get(k, k) for k in self.learners)
            raise UserError(f"{self.label()}: task '{task.name}' is not supported; allowed: {allowed}")
        return getattr(self, self.learners[output])()

    def _learner(self, task: Task) -> Any:
        learner = self._bare_learner(task)
        if self.scaled:
            from sklearn.pipeline import Pipeline, make_pipeline
            from sklearn.preprocessing import StandardScaler

            piped = isinstance(learner, Pipeline)
            steps = [step for _, step in learner.steps] if piped else [learner]
            learner = make_pipeline(StandardScaler(), *steps)  # flat: weights reach the last step
        return learner

    @classmethod
    def label(cls) -> str:
        """The method's name in messages (its module's name, e.g. ``random_forest``)."""
        return cls.__module__.rsplit(".", 1)[-1]

    @classmethod
    def check_data(cls, train: Any) -> None:
        """Refuse a training part this method cannot learn from (streamed, unless it streams)."""
        if train.streamed and not cls.streams:
            raise needs_memory(cls.label(), train)

    def fit(self, train: Dataset, valid: Dataset | None, task: Task, **context: Any) -> ScikitLearnMethod:
        """Fit the learner for ``task`` on the training split (``valid`` is not used)."""
        self.check_data(train)
        from sklearn.pipeline import Pipeline

        self.output_ = task.evaluation.output
        self.learner_ = self._learner(task)
        self.inputs_ = self._encoding(train)
        x = self._table(train)
        y = self._targets(train)
        weight = train.arrays.get("weight")
        piped = isinstance(self.learner_, Pipeline)
        final = self.learner_[-1] if piped else self.learner_  # a pipeline routes by step name
        prefix = f"{self.learner_.steps[-1][0]}__" if piped else ""
        fit_arguments: dict[str, Any] = {}
        if weight is not None and _takes_weights(final):
            fit_arguments[f"{prefix}sample_weight"] = weight
        elif weight is not None:
            warnings.warn(f"{self.label()}: the training rows' weights are not used "
                          f"({type(final).__name__} takes none)", UserWarning, stacklevel=2)
        callbacks = context.get("callbacks")
        self.notify(callbacks, "on_fit_start", self)
        self.learner_.fit(x, y, **fit_arguments)
        self.notify(callbacks, "on_fit_end", self)
        return self

    def _targets(self, train: Dataset) -> np.ndarray | None:
        """The training targets as the learner takes them (class indices int64; None to cluster)."""
        y = train.y if "y" in train and self.output_ != "clusters" else None
        targets = y.shape[1] if y is not None and y.ndim > 1 else 1
        if self.one_target and self.output_ == "values" and targets > 1:
            raise UserError(f"{self.label()}: regression of {targets} targets at once is not "
                            "supported (its regressor fits one); fit one target per method entry")
        if y is not None and self.output_ != "values":
            y = y.astype(np.int64)
        return y

    def _encoding(self, train: Dataset) -> InputEncoding | None:
        """The one-hot and bag-of-words encodings fitted on the training part (None without any)."""
        if not (self.one_hot or self.bag_of_words):
            return None
        encoding = InputEncoding(self.label(), self.one_hot, self.bag_of_words)
        return encoding.fit(train.in_chunks(), train.feature_names, train.input_shape)

    def _table(self, data: Dataset) -> np.ndarray:
        """The learner's inputs [N, columns]: the flattened inputs, or their encoding."""
        encoding = getattr(self, "inputs_", None)
        return table(data) if encoding is None else encoding.table(data)

    def column_names(self, data: Dataset) -> list[str] | None:
        """Names of the learner's input columns (encoded ones too), where the data names them."""
        encoding = getattr(self, "inputs_", None)
        if encoding is not None:
            return encoding.column_names()
        names = data.feature_names
        if names and len(names) == int(np.prod(data.input_shape)):
            return [str(n) for n in names]
        return None

    def predict(self, data: Dataset) -> np.ndarray:
        """Signal probability [N], class probabilities [N, K], values or squared distances to centres."""
        self._check_fitted("learner_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        x = self._table(data)
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
        encoding = getattr(self, "inputs_", None)
        state = {"method": self.label(), "output": self.output_,
                 "params": {name: getattr(self, name) for name in inspect.signature(type(self)).parameters},
                 "learner": _encode(self.learner_, "learner", arrays),
                 "inputs": None if encoding is None else _encode(encoding.state(), "inputs",
                                                                 arrays),
                 "fitted": {name: _encode(getattr(self, name), name, arrays)
                            for name in self.fitted}}
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
            inputs = state.get("inputs")  # absent in files saved before the encodings
            method.inputs_ = None
            if inputs is not None:
                method.inputs_ = InputEncoding.from_state(cls.label(), _decode(inputs, arrays))
            for name, value in state.get("fitted", {}).items():
                if name not in cls.fitted:
                    raise ValueError(f"unknown fitted attribute {name!r}")
                setattr(method, name, _decode(value, arrays))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}: cannot read saved {cls.label()} ({error})") from None
        method.output_ = state["output"]
        return method


#: the methods that learn from a streamed training part, suggested where one cannot
STREAMING_METHODS = ("sgd", "boosted_trees")


def needs_memory(method: str, train: Any) -> UserError:
    """The error (to raise) of a method that cannot learn from the streamed part ``train``."""
    inputs = int(np.prod(train.input_shape))
    size = len(train) * inputs * np.dtype(np.float32).itemsize  # inputs are read as float32
    return UserError(f"{method}: needs the training data in memory, and the training part is "
                     f"streamed from disk ({len(train):,} rows x {inputs:,} inputs = "
                     f"{_bytes(size)} as float32); set data.streaming: never if that fits in "
                     f"memory, or use a method that learns from a stream: "
                     f"{', '.join(STREAMING_METHODS)}")


def _bytes(size: float) -> str:
    """``38.4 MB``, ``1.2 GB``: a size in decimal units, as ``data.memory`` takes them."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} bytes"


def _takes_weights(learner: Any) -> bool:
    from sklearn.compose import TransformedTargetRegressor

    if isinstance(learner, TransformedTargetRegressor):  # hands its fit parameters to its regressor
        learner = learner.regressor
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
    if isinstance(value, type) and issubclass(value, np.generic):  # an encoder's output dtype
        return {"numpy_type": np.dtype(value).str}
    if isinstance(value, np.random.Generator):  # e.g. a histogram booster's feature sampler
        generator, name = value.bit_generator, type(value.bit_generator).__name__
        if name not in BIT_GENERATORS or type(generator) is not getattr(np.random, name):
            raise TypeError(f"{path}: cannot save a {name} random generator")
        return {"generator": name, "state": _encode(generator.state, f"{path}.state", arrays)}
    cls = type(value)
    if not cls.__module__.startswith("sklearn."):
        raise TypeError(f"{path}: cannot save a {cls.__module__}.{cls.__name__} without pickle")
    where = f"{cls.__module__}:{cls.__qualname__}"
    if isinstance(value, BaseEstimator):  # its pickling state: attributes, less derived caches
        return {"estimator": where, "state": _encode(value.__getstate__(), path, arrays)["dict"]}
    rebuild, arguments, *rest = value.__reduce_ex__(2)
    state = _encode(rest[0] if rest else None, f"{path}.state", arrays)
    if rebuild is cls:  # compiled scikit-learn objects built from arguments (a tree's nodes)
        return {"object": where, "arguments": _encode(list(arguments), f"{path}.args", arrays),
                "state": state}
    if _makes_new(rebuild) and tuple(arguments) == (cls,) and not any(rest[1:]):
        return {"object": where, "new": True, "state": state}  # cls.__new__(cls), then its state
    if _cython_unpickle(rebuild, cls) and len(arguments) == 3 and arguments[2] == () and not rest:
        return {"object": where, "new": True, "state": None}  # a compiled object without fields
    raise TypeError(f"{path}: cannot save a {where} without pickle")


def _makes_new(rebuild: Any) -> bool:
    """Whether pickle rebuilds by ``cls.__new__(cls)`` (protocol 2, scikit-learn's ``newObj``)."""
    import copyreg

    return rebuild is copyreg.__newobj__ or _compiled_by_scikit_learn(rebuild, "newObj")


def _cython_unpickle(rebuild: Any, cls: type) -> bool:
    """Whether ``rebuild`` is Cython's generated unpickler of ``cls`` (a compiled loss, say)."""
    return _compiled_by_scikit_learn(rebuild, f"__pyx_unpickle_{cls.__name__}")


def _compiled_by_scikit_learn(function: Any, name: str) -> bool:
    return (getattr(function, "__name__", "") == name
            and getattr(function, "__module__", "").startswith("sklearn."))


def _scikit_learn_class(where: str) -> type:
    module, _, name = where.partition(":")
    if not module.startswith("sklearn."):  # a saved file names only scikit-learn's own classes
        raise ValueError(f"refusing to rebuild {where}")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ValueError(f"{where} is not in this scikit-learn") from None
    if not (inspect.isclass(found) and found.__module__.startswith("sklearn.")):  # no functions
        raise ValueError(f"refusing to rebuild {where} (not a scikit-learn class)")
    return found


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
    if "numpy_type" in value:
        return np.dtype(value["numpy_type"]).type
    if "generator" in value:
        if value["generator"] not in BIT_GENERATORS:
            raise ValueError(f"refusing to rebuild a {value['generator']} random generator")
        generator = getattr(np.random, value["generator"])()
        generator.state = _decode(value["state"], arrays)
        return np.random.Generator(generator)
    if "estimator" in value:
        cls = _scikit_learn_class(value["estimator"])
        learner = cls.__new__(cls)
        if "attributes" in value:  # saved before estimators kept their pickling state
            learner.__dict__.update({k: _decode(v, arrays) for k, v in value["attributes"].items()})
        else:
            learner.__setstate__({k: _decode(v, arrays) for k, v in value["state"].items()})
        return learner
    if "object" in value:
        cls = _scikit_learn_class(value["object"])
        obj = cls.__new__(cls) if value.get("new") else cls(*_decode(value["arguments"], arrays))
        state = _decode(value["state"], arrays)
        if state is None:
            return obj
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        elif isinstance(state, dict):  # a plain object: pickle sets its attributes
            obj.__dict__.update(state)
        else:
            raise ValueError(f"cannot restore the state of {value['object']}")
        return obj
    raise ValueError(f"unknown saved value {sorted(value)}")


__all__ = ["ScikitLearnMethod"]
