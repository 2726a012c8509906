"""ONNX graphs of quanta's fitted classical methods, made by the libraries' own converters.

:func:`to_onnx` turns a fitted method (:mod:`quanta.methods`) into one ONNX
model with one float32 input ``x`` [batch, F] (F: the columns of the
method's input table, images and sets flattened as
:func:`quanta.methods.base.table` flattens them) and one float32 output
``scores`` equal to ``method.predict``: the signal probability [batch] for a
binary task, the class probabilities [batch, K], the values [batch] (or
[batch, T]) of a regression, the squared distances to the centres
[batch, k] of a clustering.

The learner is converted by a well-kept converter (:data:`CONVERTIBLE`):
skl2onnx for scikit-learn, onnxmltools for XGBoost's boosters. The few
steps of quanta's own ``predict`` beyond the learner's (the positive
class's column, the squared k-means distances, SGD's squashed margins and
its target scaling, an SVR's target scaling) are appended as ONNX nodes.
scikit-learn's kernel feature maps (``Nystroem`` with the RBF kernel,
``RBFSampler``), which skl2onnx does not cover, get a converter here
(:func:`register_kernel_maps`), written from scikit-learn's ``transform``.

The model's ``metadata_props`` record the method, the converter and its
version, the input and output (:func:`describe`). Before it is returned the
graph is run by ONNX Runtime on random rows and compared with ``predict``
(:func:`check_against_predict`); a graph that disagrees is refused.

Trees compare float32 inputs with float32 thresholds in ONNX Runtime, as
scikit-learn's trees and XGBoost do themselves, so their scores agree to
rounding; scikit-learn's histogram boosting compares with float64
thresholds, and a value that lies between a threshold and its float32
rounding could take the other branch. Measured on 2,000 held-out rows of
noisy XOR (hist_boosting 100 rounds, random_forest 50 trees, decision_tree,
boosted_trees 100 rounds): no row flipped, largest difference 1.8e-7.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from quanta.errors import UserError, first_line

#: the opset of the graphs (onnxmltools 1.16 converts XGBoost up to opset 15) and of ai.onnx.ml
OPSET = 15
ML_OPSET = 3
INPUT, OUTPUT = "x", "scores"
#: tolerance of the check against ``predict``: |onnx - predict| <= ATOL + RTOL max |predict| (the
#: largest score of the rows checked: float32 rounding scales with the sizes summed, not the result)
ATOL, RTOL = 1e-4, 1e-3
#: the rows (standard normal, seeded) on which a new graph is compared with ``predict``
CHECK_ROWS = 7

#: methods whose graph computes in float64 behind the float32 input: the Nystroem map's
#: whitening (entries of 10^3) amplifies float32 rounding; measured on values of +-26,
#: scikit-learn's own float32 predict is 5e-3 from its float64 one, a float64 graph 1e-6 and a
#: float32 graph 5e-3
IN_DOUBLE = ("kernel_map",)

#: registered methods that are exported, and the converter that does it
CONVERTIBLE = {
    "boosted_trees": "onnxmltools (XGBoost booster)",
    "logistic_regression": "skl2onnx",
    "random_forest": "skl2onnx",
    "extra_trees": "skl2onnx",
    "decision_tree": "skl2onnx",
    "adaboost": "skl2onnx",
    "hist_boosting": "skl2onnx",
    "knn": "skl2onnx",
    "svm": "skl2onnx",
    "kernel_map": "skl2onnx, with quanta's converters of Nystroem (RBF) and RBFSampler",
    "sgd": "skl2onnx",
    "kmeans": "skl2onnx",
}
#: registered methods that are not exported, and why (the one-line error says so)
NOT_CONVERTIBLE = {
    "gaussian_process": "a GPyTorch model has no ONNX converter (its predictive mean solves "
                        "against the training data with a Cholesky factor of the kernel matrix)",
    "independent_gaussians": "a generative baseline: its product is samples (quanta sample), and its score, the Gaussian log-likelihood, is a few lines of NumPy",  # noqa: E501
    "gaussian_mixture": "its scores, -ln p(k | x), are not among the score steps quanta appends to skl2onnx's GaussianMixture graph (probabilities); with codes_from it also reads another entry's network",  # noqa: E501
    "pca": "its scores are the embedding task's codes, an output quanta's ONNX graphs do not end in yet (skl2onnx converts PCA's transform); with codes_from it also reads another entry's network",  # noqa: E501
    "ensemble": "its members are other entries of the run, loaded from their own folders; export "
                "each member and combine their scores",
}


def to_onnx(method: Any, n_features: int, metadata: dict[str, Any] | None = None) -> Any:
    """``method`` (a fitted quanta method) as an ``onnx.ModelProto``: ``x`` [batch, F] -> scores.

    Args:
        method: a fitted method of :data:`CONVERTIBLE` (e.g. ``quanta.fit(...).estimator``).
        n_features: F, the columns of the method's input table (30 for [N, 30] inputs,
            1600 for 40x40 images).
        metadata: more ``metadata_props`` (feature names, classes, ...), beside :func:`describe`.

    Raises:
        UserError: the method is not convertible, uses input encodings, or was fitted on
            another number of columns; or the converted graph disagrees with ``predict``.
    """
    name = method_name(method)
    if name in NOT_CONVERTIBLE:
        raise UserError(f"method '{name}' cannot be exported to ONNX: {NOT_CONVERTIBLE[name]}; "
                        f"convertible: {', '.join(CONVERTIBLE)}")
    if name not in CONVERTIBLE:
        raise UserError(f"method '{name}' has no ONNX converter in quanta; convertible: "
                        f"{', '.join(CONVERTIBLE)}")
    _check_fitted(method, name)
    if getattr(method, "inputs_", None) is not None:
        raise UserError(f"method '{name}': its one_hot / bag_of_words input encodings are quanta's "
                        "own code, not in an ONNX graph; encode the columns in the data to export "
                        "it")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
            or n_features < 1:
        raise UserError(f"method '{name}': n_features must be an integer >= 1; received "
                        f"{n_features!r}")
    n_features = int(n_features)
    fitted = _fitted_columns(method)
    if fitted != n_features:
        raise UserError(f"method '{name}': n_features={n_features} differs from the {fitted} "
                        "input columns it was fitted on")
    _refuse_unconverted(method, name)
    _require_converters(name)
    try:
        proto, steps, converter = _convert(method, n_features)
    except UserError:
        raise
    except Exception as error:  # the converters raise many types
        raise UserError(f"method '{name}' cannot be exported to ONNX by {CONVERTIBLE[name]} "
                        f"({type(error).__name__}: {first_line(error)})") from None
    reference = method.predict(_rows(np.zeros((2, n_features), np.float32)))
    _finish(proto, steps, reference.shape[1:])
    check_against_predict(proto, method, n_features, name)
    _set_metadata(proto, {**(metadata or {}), **describe(method, n_features, converter)})
    return proto


def method_name(method: Any) -> str:
    """The registered name of ``method``'s class (``random_forest``); UserError if it has none."""
    from quanta.methods import METHODS

    for name in METHODS.names():
        if METHODS.get(name) is type(method):
            return name
    raise UserError(f"{type(method).__name__} is not a registered quanta method; ONNX export "
                    f"covers: {', '.join(CONVERTIBLE)}")


def describe(method: Any, n_features: int, converter: str) -> dict[str, Any]:
    """The metadata of a method's graph: method, task output, converter (with version), in/out."""
    return {"method": method_name(method), "output": method_output(method),
            "converter": converter,
            "inputs": [{"name": INPUT, "dtype": "float32", "shape": ["batch", n_features]}],
            "outputs": [OUTPUT]}


def method_output(method: Any) -> str:
    """The kind of scores: signal_probability, class_probabilities, values or clusters."""
    if hasattr(method, "output_"):
        return method.output_
    from quanta.methods.boosted_trees import OBJECTIVES

    objective = method.booster_.attr("objective") or _booster_objective(method.booster_)
    return next(kind for kind, (name, _) in OBJECTIVES.items() if name == objective)


def check_against_predict(proto: Any, method: Any, n_features: int, name: str,
                          x: np.ndarray | None = None) -> float:
    """The largest |ONNX - predict| on rows ``x`` (default: seeded standard-normal rows).

    Raises a one-line error when they differ by more than ``ATOL + RTOL max |predict|``.
    """
    import onnxruntime

    if x is None:
        x = np.random.default_rng(1).normal(size=(CHECK_ROWS, n_features)).astype(np.float32)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    (mine,) = session.run(None, {INPUT: x})
    theirs = method.predict(_rows(x))
    if mine.shape != theirs.shape:
        raise UserError(f"method '{name}': the exported scores have shape {mine.shape} where "
                        f"predict gives {theirs.shape}; not exported")
    worst = float(np.max(np.abs(mine - theirs), initial=0.0))
    if worst > ATOL + RTOL * float(np.max(np.abs(theirs), initial=0.0)):
        raise UserError(f"method '{name}': the exported scores differ from predict's by up to "
                        f"{worst:.3g}; not exported")
    return worst


# -- the converters ------------------------------------------------------------------------
def _convert(method: Any, n_features: int) -> tuple[Any, list[tuple], str]:
    """(graph, the steps after its last output, the converter and its version)."""
    if hasattr(method, "booster_"):
        return _xgboost(method, n_features)
    return _scikit_learn(method, n_features)


def _xgboost(method: Any, n_features: int) -> tuple[Any, list[tuple], str]:
    import onnxmltools
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = method.booster_[: method.best_round_ + 1]  # the rounds predict uses
    proto = convert_xgboost(booster, initial_types=[(INPUT, FloatTensorType([None, n_features]))],
                            target_opset=OPSET)
    steps = [("column", 1)] if method_output(method) == "signal_probability" else []
    return proto, steps, f"onnxmltools {onnxmltools.__version__}"


def _scikit_learn(method: Any, n_features: int) -> tuple[Any, list[tuple], str]:
    import skl2onnx
    from sklearn.pipeline import Pipeline

    register_kernel_maps()
    output = method.output_
    learner, steps, options = method.learner_, [], {}
    if hasattr(method, "scaler_"):  # sgd: its own scaler, scores and target scaling
        learner = Pipeline([("scaler", method.scaler_), ("linear", method.learner_)])
        if output == "values":
            steps.append(_inverse_scaling(method.target_scaler_))
        elif method.loss_ != "log_loss":  # margins through the logistic function (softmax)
            options["raw_scores"] = True
            steps.append(("sigmoid",) if method.learner_.coef_.shape[0] == 1 else ("softmax",))
    learner, after = _without_target_transform(learner)
    steps += after
    final = learner[-1] if isinstance(learner, Pipeline) else learner
    if output in ("signal_probability", "class_probabilities"):
        options["zipmap"] = False  # probabilities as a tensor, not a list of maps
    if output == "clusters":
        steps.append(("square",))
    if output == "signal_probability":
        steps.append(("column", 1))
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    double = method_name(method) in IN_DOUBLE
    tensor = DoubleTensorType if double else FloatTensorType
    with _integer_missing_flags():
        proto = skl2onnx.convert_sklearn(
            learner, initial_types=[(INPUT, tensor([None, n_features]))],
            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
            options={id(final): options} if options else None)
    if double:
        _float_input(proto)
    return proto, steps, f"skl2onnx {skl2onnx.__version__}"


def _refuse_unconverted(method: Any, name: str) -> None:
    """Refuse the settings whose converted graph differs from ``predict`` (measured)."""
    learner = getattr(method, "learner_", None)
    final = learner[-1] if hasattr(learner, "steps") else learner
    kind = type(final).__name__
    if kind.startswith("KNeighbors") and final.weights == "distance":
        raise UserError(f"method '{name}': weights: distance is not exported (skl2onnx's "
                        "k-nearest-neighbours converter weighs the neighbours otherwise: scores "
                        "differ by up to 0.2); use weights: uniform to export it")
    if kind == "CalibratedClassifierCV" and final.method == "isotonic":
        raise UserError(f"method '{name}': calibration: isotonic is not exported (skl2onnx's "
                        "isotonic calibration differs from scikit-learn's by up to 0.03 in "
                        "probability); use calibration: sigmoid to export it")


def _float_input(proto: Any) -> None:
    """A graph computed in float64 given the float32 input ``x``: a Cast in front of it."""
    from onnx import TensorProto, helper

    graph, inner = proto.graph, "quanta_x_float64"
    for node in graph.node:
        node.input[:] = [inner if name == INPUT else name for name in node.input]
    graph.node.insert(0, helper.make_node("Cast", [INPUT], [inner], name="quanta_x_float64",
                                          to=TensorProto.DOUBLE))
    graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT


def _without_target_transform(learner: Any) -> tuple[Any, list[tuple]]:
    """A learner with its ``TransformedTargetRegressor`` unwrapped, and the scaling to undo after.

    skl2onnx has no converter of the wrapper; quanta's (an SVR's) standardises the targets, which
    the graph undoes as ``y * scale + mean``.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    piped = isinstance(learner, Pipeline)
    final = learner[-1] if piped else learner
    if not isinstance(final, TransformedTargetRegressor):
        return learner, []
    step = _inverse_scaling(final.transformer_)
    if not piped:
        return final.regressor_, [step]
    return Pipeline([*learner.steps[:-1], ("regressor", final.regressor_)]), [step]


def _inverse_scaling(scaler: Any) -> tuple:
    """The step ``y * scale + mean`` undoing a fitted ``StandardScaler`` of the targets."""
    if type(scaler).__name__ != "StandardScaler":
        raise TypeError(f"targets transformed by a {type(scaler).__name__}")
    scale = np.ones_like(scaler.mean_) if scaler.scale_ is None else scaler.scale_
    return ("affine", np.asarray(scale, np.float32), np.asarray(scaler.mean_, np.float32))


@contextlib.contextmanager
def _integer_missing_flags() -> Iterator[None]:
    """skl2onnx 1.20's histogram-boosting trees with their missing-value flags as integers.

    Its tree writer gives a leaf's ``nodes_missing_value_tracks_true`` as ``False`` beside the
    branches' integers, which onnx >= 1.20 refuses in an integer list ("Expected an int, got a
    boolean"); the flag is cast to int while a graph is converted, nothing else changes.
    """
    from skl2onnx.common import tree_ensemble

    add_node = tree_ensemble.add_node

    def integer_flags(*args: Any, **kwargs: Any) -> Any:
        if "nodes_missing_value_tracks_true" in kwargs:
            kwargs["nodes_missing_value_tracks_true"] = int(
                kwargs["nodes_missing_value_tracks_true"])
        return add_node(*args, **kwargs)

    tree_ensemble.add_node = integer_flags
    try:
        yield
    finally:
        tree_ensemble.add_node = add_node


# -- scikit-learn's kernel feature maps ----------------------------------------------------
def register_kernel_maps() -> None:
    """Give skl2onnx converters of ``Nystroem`` (RBF kernel) and ``RBFSampler`` it lacks.

    ``RBFSampler``: sqrt(2 / n) cos(x W + b). ``Nystroem``: the kernel
    exp(-gamma |x - c|^2) against its components c, times its normalisation's
    transpose. A converter that skl2onnx has already is left alone.
    """
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.kernel_approximation import Nystroem, RBFSampler

    for cls, converter in ((RBFSampler, _convert_rbf_sampler), (Nystroem, _convert_nystroem)):
        if cls not in sklearn_operator_name_map:
            update_registered_converter(cls, f"Quanta{cls.__name__}", _kernel_map_shape,
                                        converter)


def _kernel_map_shape(operator: Any) -> None:
    rows = operator.inputs[0].get_first_dimension()
    width = operator.raw_operator.n_components
    if type(operator.raw_operator).__name__ == "Nystroem":
        width = operator.raw_operator.normalization_.shape[0]
    operator.outputs[0].type = operator.inputs[0].type.__class__([rows, width])


def _constant(scope: Any, container: Any, label: str, value: Any, operator: Any) -> str:
    """An initializer of ``value`` in the dtype of ``operator``'s input (float32 or float64)."""
    from onnx import TensorProto

    double = type(operator.inputs[0].type).__name__ == "DoubleTensorType"
    name = scope.get_unique_variable_name(label)
    value = np.asarray(value, np.float64 if double else np.float32)
    container.add_initializer(name, TensorProto.DOUBLE if double else TensorProto.FLOAT,
                              list(value.shape), value.ravel().tolist())
    return name


def _node(scope: Any, container: Any, kind: str, inputs: list[str], output: str | None = None,
          **attributes: Any) -> str:
    output = output or scope.get_unique_variable_name(kind.lower())
    container.add_node(kind, inputs, [output], name=scope.get_unique_operator_name(kind),
                       **attributes)
    return output


def _convert_rbf_sampler(scope: Any, operator: Any, container: Any) -> None:
    sampler = operator.raw_operator

    def constant(label: str, value: Any) -> str:
        return _constant(scope, container, label, value, operator)

    x = operator.inputs[0].full_name
    projected = _node(scope, container, "MatMul", [x, constant("weights", sampler.random_weights_)])
    phase = _node(scope, container, "Add", [projected, constant("offset", sampler.random_offset_)])
    factor = constant("factor", [(2.0 / sampler.n_components) ** 0.5])
    _node(scope, container, "Mul", [_node(scope, container, "Cos", [phase]), factor],
          operator.outputs[0].full_name)


def _convert_nystroem(scope: Any, operator: Any, container: Any) -> None:
    nystroem = operator.raw_operator
    if nystroem.kernel != "rbf" or nystroem.kernel_params:
        raise TypeError(f"Nystroem with the {nystroem.kernel!r} kernel (only rbf is converted)")

    def constant(label: str, value: Any) -> str:
        return _constant(scope, container, label, value, operator)

    centres = np.asarray(nystroem.components_, np.float64)
    gamma = nystroem.gamma if nystroem.gamma is not None else 1.0 / centres.shape[1]
    x = operator.inputs[0].full_name
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, clipped at 0 as scikit-learn's euclidean_distances does
    squares = _node(scope, container, "ReduceSumSquare", [x], axes=[1], keepdims=1)
    cross = _node(scope, container, "MatMul", [x, constant("centres_t", -2.0 * centres.T)])
    distance = _node(scope, container, "Add", [
        _node(scope, container, "Add", [cross, squares]),
        constant("centre_squares", (centres**2).sum(axis=1))])
    distance = _node(scope, container, "Relu", [distance])
    exponent = _node(scope, container, "Mul", [distance, constant("gamma", [-gamma])])
    kernel = _node(scope, container, "Exp", [exponent])
    normalisation = constant("normalisation", nystroem.normalization_.T)
    _node(scope, container, "MatMul", [kernel, normalisation], operator.outputs[0].full_name)


# -- the steps after the converter's output ------------------------------------------------
def _finish(proto: Any, steps: list[tuple], tail: tuple[int, ...]) -> None:
    """Append ``steps`` to the last output of ``proto``; leave one float32 output ``scores``.

    ``tail`` is the per-row shape ``predict`` returns (() for [batch], (K,) for [batch, K]).
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    source = graph.output[-1].name  # probabilities, values or distances come last
    if source == OUTPUT:  # k-means: skl2onnx's own "scores", renamed before ours is made
        source = "quanta_converted_scores"
        for node in graph.node:
            node.output[:] = [source if name == OUTPUT else name for name in node.output]
            node.input[:] = [source if name == OUTPUT else name for name in node.input]
    current, nodes, constants = source, [], []

    def constant(label: str, value: np.ndarray) -> str:
        name = f"quanta_{label}_{len(constants)}"
        constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def add(kind: str, inputs: list[str], **attributes: Any) -> str:
        name = f"quanta_{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [name], name=name, **attributes))
        return name

    current = add("Cast", [current], to=TensorProto.FLOAT)
    for step in steps:
        if step[0] == "column":
            current = add("Gather", [current, constant("column", np.int64(step[1]))], axis=1)
        elif step[0] == "square":
            current = add("Mul", [current, current])
        elif step[0] == "affine":
            current = add("Add", [add("Mul", [current, constant("scale", step[1])]),
                                  constant("offset", step[2])])
        elif step[0] == "sigmoid":
            current = add("Sigmoid", [current])
        elif step[0] == "softmax":
            current = add("Softmax", [current], axis=-1)
        else:
            raise ValueError(f"unknown step {step[0]!r}")
    shape = constant("shape", np.array([-1, *tail], np.int64))
    nodes.append(helper.make_node("Reshape", [current, shape], [OUTPUT], name="quanta_scores"))
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT,
                                                      ["batch", *tail]))


# -- small helpers -------------------------------------------------------------------------
def _rows(x: np.ndarray) -> Any:
    from quanta.data.dataset import from_arrays

    return from_arrays(x, name="export check")


def _check_fitted(method: Any, name: str) -> None:
    if not (hasattr(method, "learner_") or hasattr(method, "booster_")):
        raise UserError(f"method '{name}' is not fitted; fit it before exporting it to ONNX")


def _fitted_columns(method: Any) -> int:
    if hasattr(method, "booster_"):
        return int(method.booster_.num_features())
    fitted = getattr(method, "scaler_", None) or method.learner_
    return int(fitted.n_features_in_)


def _booster_objective(booster: Any) -> str:
    import json

    return json.loads(booster.save_config())["learner"]["objective"]["name"]


def _require_converters(name: str) -> None:
    modules = ("onnx", "onnxruntime", "onnxmltools" if name == "boosted_trees" else "skl2onnx")
    for module in modules:
        try:
            __import__(module)
        except ImportError as error:
            raise UserError(f"ONNX export of '{name}' needs {module} ({first_line(error)}); "
                            "pip install quanta[export]") from None


def _set_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """``metadata`` as ``metadata_props``: strings as they are, other values as JSON."""
    import json

    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)


__all__ = ["ATOL", "CONVERTIBLE", "NOT_CONVERTIBLE", "OPSET", "RTOL", "check_against_predict",
           "describe", "method_name", "method_output", "register_kernel_maps", "to_onnx"]
