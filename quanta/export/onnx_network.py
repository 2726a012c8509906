"""A fitted quanta network written as one ONNX file that runs without quanta.

The file computes exactly what ``Network.predict`` returns: the saved input
standardisation (:class:`quanta.data.transforms.Standardize`, padding of sets
kept at zero), the model, the task's scores (sigmoid for binary, softmax for
multiclass, the mean of a Gaussian head, ...) and, for regression, the
targets' shift and scale (:class:`TargetScaling`) are folded into one graph
(:class:`DeployedNetwork`). A Gaussian head's sigma is a second output,
``uncertainty``.

Shapes: every input has a dynamic batch axis; a model over sets or sequences
(one whose forward takes a ``mask``) has a dynamic length axis on ``x`` and
``mask`` too, and a graph model a dynamic edge axis on its edge arrays.

Two exporters of ``torch.onnx`` exist: the TorchScript-based one
(``dynamo=False``), which traces the model in a fraction of a second, and the
``torch.export``-based one (``dynamo=True``), ten to fifty times slower here.
Every registered model exports with the first; the second is tried when the
first fails (:data:`EXPORTERS`), and the file's metadata records which one
made it. After export the file is run by ONNX Runtime on inputs of another
batch size and length than the traced ones and compared with PyTorch; a file
that disagrees is not written. ``EyeLike`` nodes of bool type (no self-loops
in graphs of dynamic size) are computed in float, which ONNX Runtime has.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from quanta.errors import UserError, first_line

#: opset of the TorchScript exporter: affine_grid (stn_cnn) needs 20; ONNX Runtime >= 1.17 has it
OPSET = 20
#: the dtype of each input array that is not float32 (what the sources give)
INPUT_DTYPES = {
    "mask": "bool",
    "edge_mask": "bool",
    "edge_index": "int64",
    "decoder_input": "int64",
}
#: the name of each input's axis 1 where it is dynamic: sets and sequences, and the edges of graphs
LENGTH_AXES = {
    "x": "length",
    "p4": "length",
    "mask": "length",
    "edge_index": "edges",
    "edge_mask": "edges",
    "edge_features": "edges",
}
#: the exporters tried in turn: the TorchScript tracer (every registered model, 0.05-3 s) and, for
#: a model it cannot trace, torch.export (dynamo=True; measured on the exportable registered models
#: it also exports all but the ODE networks, but takes 1.5-18 s each where TorchScript takes < 3 s)
EXPORTERS = ("torchscript", "dynamo")
#: why a model with an ODE block of an adaptive solver (the default dopri5 of ode_net and
#: ode_trajectory) is refused; with a fixed-step solver it exports
ADAPTIVE_SOLVER = (
    "its adaptive ODE solver chooses the number of steps from the inputs, which one "
    "static graph cannot follow; train it with a fixed-step method (method: rk4, "
    "midpoint or euler) to export it"
)
#: registered models that cannot be exported, and why (refused in one line)
NOT_EXPORTABLE = {
    "hnn": (
        "its output is the gradient of the learned Hamiltonian, taken with torch.autograd.grad "
        "inside forward, which neither torch.onnx exporter can record"
    ),
    "recursive_jet": (
        "it combines the nodes one tree level at a time, as many times as the deepest tree of the "
        "batch has levels (a loop over a count read from the data), which a static graph would "
        "fix at the depth it was traced with"
    ),
    "vae": "its scores (the per-sample negative ELBO) are computed by the generation task from the encoder and decoder, not by forward; its product is new samples (Run.sample)",
    "gan": "its saved score is minus the critic's value, which the generation task computes beside samples from a seeded generator, not the model's forward; its product is new samples from the generator, which takes noise, not the data (Run.sample)",
}
#: tolerance of the check against PyTorch: |onnx - torch| <= ATOL + RTOL |torch|
ATOL, RTOL = 1e-4, 1e-3


@dataclass(frozen=True)
class InputSpec:
    """One input of the graph: its array name, dtype and per-sample shape, and its dynamic axes.

    ``axes`` maps an axis of the batched array (0 is the batch) to its name in the file.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    axes: dict[int, str]

    def describe(self) -> dict[str, Any]:
        """The metadata record: ``shape`` with dynamic axes named (``["batch", "length", 7]``)."""
        full = [self.axes.get(0, "batch"), *self.shape]
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": [self.axes.get(i, size) for i, size in enumerate(full)],
        }


def input_specs(
    model: torch.nn.Module, shapes: dict[str, tuple[int, ...]], standardized: bool
) -> list[InputSpec]:
    """The graph's inputs for ``model`` on arrays of per-sample ``shapes``.

    They are the arrays the model's forward takes (``model.inputs``) that the
    data hold, and ``mask`` for standardised sets (padding stays zero) even if
    the model does not read it.
    """
    wanted = [name for name in getattr(model, "inputs", ("x",)) if name in shapes]
    if (
        standardized
        and "x" in wanted
        and "mask" in shapes
        and len(shapes["x"]) == 2
        and "mask" not in wanted
    ):
        wanted.append("mask")
    over_elements = "mask" in getattr(model, "inputs", ())  # a set, sequence or graph model
    specs = []
    for name in wanted:
        shape = tuple(int(s) for s in shapes[name])
        axes = {0: "batch"}
        if over_elements and name in LENGTH_AXES and shape:
            axes[1] = LENGTH_AXES[name]
        specs.append(InputSpec(name, INPUT_DTYPES.get(name, "float32"), shape, axes))
    return specs


def example_inputs(
    specs: list[InputSpec],
    batch: int,
    length: int | None = None,
    edges: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random inputs of ``specs``: ``batch`` rows, ``length``/``edges`` slots on dynamic axes.

    Floats are standard normal, four-momenta ``p4`` on shell; masks keep a random number (at
    least one) of leading slots; edge indices point at valid slots; token ids are 0 or 1.
    """
    rng = np.random.default_rng(seed)
    sizes = {"length": length, "edges": edges}
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = [batch, *spec.shape]
        for axis, name in spec.axes.items():
            if axis > 0 and sizes.get(name) is not None:
                shape[axis] = sizes[name]
        if spec.name in ("mask", "edge_mask"):
            counts = rng.integers(1, shape[1] + 1, size=batch)
            arrays[spec.name] = np.arange(shape[1])[None, :] < counts[:, None]
        elif spec.name == "edge_index":
            nodes = _slots(specs, length)
            arrays[spec.name] = rng.integers(0, nodes, size=shape).astype(np.int64)
        elif spec.name == "p4":  # on shell: E = sqrt(|p|^2 + m^2), masses up to 1
            momenta = rng.standard_normal((*shape[:-1], 3)) * 10.0
            mass = rng.uniform(0.0, 1.0, shape[:-1])
            energy = np.sqrt((momenta**2).sum(-1) + mass**2)
            arrays[spec.name] = np.concatenate([energy[..., None], momenta], -1).astype(np.float32)
        elif spec.dtype == "int64":
            arrays[spec.name] = rng.integers(0, 2, size=shape).astype(np.int64)
        else:
            arrays[spec.name] = rng.standard_normal(shape).astype(np.float32)
    for name in ("x", "p4"):
        if "mask" in arrays and name in arrays and arrays[name].ndim == 3:
            arrays[name] = arrays[name] * arrays["mask"][..., None]  # padded slots hold zeros
    return arrays


def _slots(specs: list[InputSpec], length: int | None) -> int:
    """The number of set elements (graph nodes) an edge index may point at."""
    mask = next(spec for spec in specs if spec.name == "mask")
    return length if length is not None and 1 in mask.axes else mask.shape[0]


class DeployedNetwork(torch.nn.Module):
    """Standardisation, model, task scores and target scaling in one module (what is exported).

    Args:
        model: the trained model (in evaluation mode).
        task: its task; ``task.scores`` (and ``task.uncertainty``) turn outputs into scores.
        names: the graph's input names in order (:func:`input_specs`).
        transform: the fitted input :class:`Standardize`, or None.
        target_scaling: the fitted :class:`TargetScaling` of regression targets, or None.
        example: inputs to size the target scaling and find whether there is an uncertainty.

    Shapes:
        forward(*arrays) -> scores ``[N, ...]`` (and ``uncertainty`` of the same shape).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        task: Any,
        names: list[str],
        transform: Any,
        target_scaling: Any,
        example: dict[str, torch.Tensor],
    ):
        super().__init__()
        self.model = model.eval()
        self.task = task
        self.names = list(names)
        self.model_inputs = [n for n in getattr(model, "inputs", ("x",)) if n in self.names]
        self.zero_padding = False
        self.register_buffer("mean", None)
        self.register_buffer("scale", None)
        self.register_buffer("target_mean", None)
        self.register_buffer("target_scale", None)
        if transform is not None and "x" in self.names:
            x = example["x"]
            shape = [1] * x.ndim
            shape[transform.axis_] = -1
            self.register_buffer("mean", torch.as_tensor(transform.mean_).reshape(shape))
            self.register_buffer("scale", torch.as_tensor(transform.scale_).reshape(shape))
            self.zero_padding = "mask" in self.names and x.ndim == 3
        with torch.no_grad():
            output = self._outputs(*(example[name] for name in self.names))
            scores, sigma = task.scores(output), task.uncertainty(output)
        self.has_uncertainty = sigma is not None
        if target_scaling is not None:
            mean = torch.as_tensor(target_scaling.mean_)
            scale = torch.as_tensor(target_scaling.scale_)
            wide = scores.ndim == 2 and scores.shape[1] == len(
                mean
            )  # one per target, else one for all
            shape = (1, -1) if wide else (1,) * scores.ndim
            self.register_buffer("target_mean", mean.reshape(shape))
            self.register_buffer("target_scale", scale.reshape(shape))

    def _outputs(self, *arrays: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, arrays, strict=True))
        if self.mean is not None:
            x = (named["x"].float() - self.mean) / self.scale
            if self.zero_padding:
                x = x * named["mask"].unsqueeze(-1).to(x.dtype)
            named["x"] = x
        return self.task.forward(self.model, named, tuple(self.model_inputs)).float()  # what scores read

    def forward(self, *arrays: torch.Tensor):
        output = self._outputs(*arrays)
        scores = self.task.scores(output)
        if self.target_mean is not None:
            scores = scores * self.target_scale + self.target_mean
        if not self.has_uncertainty:
            return scores
        sigma = self.task.uncertainty(output)
        return scores, sigma if self.target_scale is None else sigma * self.target_scale


@dataclass
class Exported:
    """An exported network: the ONNX model, the exporter used, and what the export measured."""

    model: Any  # onnx.ModelProto
    exporter: str
    seconds: float
    max_difference: float


def require_onnx() -> None:
    """A one-line error when the export libraries are missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise UserError(
            f"quanta export needs onnx and onnxruntime ({first_line(error)}); "
            "pip install quanta[export]"
        ) from None


def refusal(name: str, model: torch.nn.Module) -> str | None:
    """Why model ``name`` cannot be exported (:data:`NOT_EXPORTABLE`, adaptive solvers), or None."""
    from quanta.models.neural_ode import FIXED_STEP, ODEBlock

    if name in NOT_EXPORTABLE:
        return NOT_EXPORTABLE[name]
    adaptive = [
        m for m in model.modules() if isinstance(m, ODEBlock) and m.method not in FIXED_STEP
    ]
    return ADAPTIVE_SOLVER if adaptive else None


def export_network(
    network: Any,
    shapes: dict[str, tuple[int, ...]],
    name: str,
    metadata: dict[str, Any] | None = None,
    exporters: tuple[str, ...] = EXPORTERS,
) -> Exported:
    """``network`` (a fitted :class:`quanta.train.network.Network`) as a checked ONNX model.

    Args:
        network: the fitted network (its model, task and transforms; the model is moved to the CPU).
        shapes: per-sample shapes of the data arrays it was trained on (``spec["shapes"]``).
        name: the model's registered name (:data:`NOT_EXPORTABLE`; messages).
        metadata: more ``metadata_props`` (feature names, classes, hyperparameters, ...).
        exporters: ``torchscript`` and/or ``dynamo``, tried in this order.
    """
    require_onnx()
    model = network.model.to("cpu").eval()
    reason = refusal(name, model)
    if reason is not None:
        raise UserError(f"model '{name}' cannot be exported to ONNX: {reason}")
    if network.config.mc_dropout:
        raise UserError(
            f"model '{name}': its scores are the mean of {network.config.mc_dropout} Monte "
            "Carlo dropout passes, which one ONNX graph does not compute; export a run "
            "trained with mc_dropout: 0"
        )
    specs = input_specs(model, shapes, network.transform is not None)
    example = {k: torch.from_numpy(v) for k, v in example_inputs(specs, batch=3, seed=1).items()}
    deployed = DeployedNetwork(
        model,
        network.task,
        [s.name for s in specs],
        network.transform,
        network.target_scaling,
        example,
    ).eval()
    outputs = ["scores", "uncertainty"] if deployed.has_uncertainty else ["scores"]
    failures = []
    for exporter in exporters:
        start = time.perf_counter()
        try:
            proto = _export(deployed, specs, example, outputs, exporter)
            seconds = time.perf_counter() - start
            difference = check_against_torch(proto, deployed, specs)
        except UserError as error:
            failures.append(f"{exporter}: {error}")
            continue
        except Exception as error:  # the exporters raise many types
            failures.append(f"{exporter}: {type(error).__name__}: {first_line(error)}")
            continue
        meta = {
            **(metadata or {}),
            "exporter": exporter,
            "opset": _opset(proto),
            "inputs": _described_inputs(specs, metadata or {}),
            "outputs": _described_outputs(proto, metadata or {}),
        }
        set_metadata(proto, meta)
        return Exported(proto, exporter, seconds, difference)
    raise UserError(f"model '{name}' cannot be exported to ONNX ({'; '.join(failures)})")


def _described_inputs(specs: list[InputSpec], metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Each input's record; ``x`` with the feature names (``metadata["feature_names"]``) if any."""
    described = [spec.describe() for spec in specs]
    for record in described:
        if record["name"] == "x" and metadata.get("feature_names"):
            record["feature_names"] = list(metadata["feature_names"])
    return described


def _described_outputs(proto: Any, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Each output's name and shape (named axes dynamic); ``scores`` with the class names if any."""
    described = []
    for value in proto.graph.output:
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        record: dict[str, Any] = {"name": value.name, "dtype": "float32", "shape": dims}
        if value.name == "scores" and metadata.get("class_names"):
            record["class_names"] = list(metadata["class_names"])
        described.append(record)
    return described


def _opset(proto: Any) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _export(
    deployed: DeployedNetwork,
    specs: list[InputSpec],
    example: dict[str, torch.Tensor],
    outputs: list[str],
    exporter: str,
) -> Any:
    import onnx

    args = tuple(example[spec.name] for spec in specs)
    names = [spec.name for spec in specs]
    if exporter == "torchscript":
        _register_symbolics()
        axes = {spec.name: dict(spec.axes) for spec in specs}
        axes.update({name: {0: "batch"} for name in outputs})
        buffer = io.BytesIO()
        with torch.no_grad(), _native_output_discarded(), warnings.catch_warnings():
            # the tracer warns of every Python branch on a shape; the check against PyTorch at
            # another batch size and length is what tells whether the trace generalises
            warnings.simplefilter("ignore")
            torch.onnx.export(
                deployed,
                args,
                buffer,
                input_names=names,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        proto = onnx.load_from_string(buffer.getvalue())
    elif exporter == "dynamo":
        batch = torch.export.Dim("batch")
        dims = {name: torch.export.Dim(name) for name in {"length", "edges"}}
        shapes = tuple(
            {axis: batch if axis == 0 else dims[label] for axis, label in spec.axes.items()}
            for spec in specs
        )
        with torch.no_grad():
            program = torch.onnx.export(
                deployed,
                args,
                input_names=names,
                output_names=outputs,
                dynamic_shapes=(shapes,),
                dynamo=True,
                verbose=False,
            )
        proto = program.model_proto
    else:
        raise UserError(f"exporter '{exporter}': allowed: {', '.join(EXPORTERS)}")
    _name_dynamic_outputs(proto, outputs)
    _boolean_eye_through_float(proto)
    return proto


def _boolean_eye_through_float(proto: Any) -> None:
    """``EyeLike`` nodes computed in float and cast to bool (ONNX Runtime has no bool EyeLike).

    ``torch.eye(p, dtype=torch.bool)`` of a dynamic set size ``p`` (no self-loops in a kNN or a
    complete graph) becomes such a node; its input and output are cast around it.
    """
    import onnx
    from onnx import TensorProto, helper

    nodes = list(proto.graph.node)
    if not any(node.op_type == "EyeLike" for node in nodes):
        return
    graph = onnx.shape_inference.infer_shapes(proto).graph
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in (*graph.value_info, *graph.input, *graph.output)
    }
    rewritten = []
    for node in nodes:
        dtype = next((a.i for a in node.attribute if a.name == "dtype"), None)
        if node.op_type != "EyeLike" or (dtype or types.get(node.input[0])) != TensorProto.BOOL:
            rewritten.append(node)
            continue
        for attribute in [a for a in node.attribute if a.name == "dtype"]:
            node.attribute.remove(attribute)
        node.attribute.append(helper.make_attribute("dtype", TensorProto.FLOAT))
        given, wanted = node.input[0], node.output[0]
        node.input[0], node.output[0] = f"{given}_as_float", f"{wanted}_as_float"
        rewritten.append(
            helper.make_node(
                "Cast",
                [given],
                [node.input[0]],
                to=TensorProto.FLOAT,
                name=f"{node.name}_input_as_float",
            )
        )
        rewritten.append(node)
        rewritten.append(
            helper.make_node(
                "Cast", [node.output[0]], [wanted], to=TensorProto.BOOL, name=f"{node.name}_as_bool"
            )
        )
    if len(rewritten) != len(nodes):
        del proto.graph.node[:]
        proto.graph.node.extend(rewritten)
        onnx.checker.check_model(proto)


def _logaddexp(g: Any, a: Any, b: Any) -> Any:
    """``log(exp(a) + exp(b)) = max(a, b) + log(1 + exp(-|a - b|))`` in ONNX operators."""
    one = g.op("Constant", value_t=torch.tensor(1.0))
    spread = g.op("Neg", g.op("Abs", g.op("Sub", a, b)))
    return g.op("Add", g.op("Max", a, b), g.op("Log", g.op("Add", one, g.op("Exp", spread))))


def _cosh(g: Any, a: Any) -> Any:
    return g.op("Cosh", a)


def _register_symbolics() -> None:
    """ONNX forms of the operators quanta's models use that the TorchScript exporter lacks
    (``logaddexp``, ``cosh``: the pair features of ParT's attention bias in ``set_transformer``)."""
    torch.onnx.register_custom_op_symbolic("aten::logaddexp", _logaddexp, OPSET)
    torch.onnx.register_custom_op_symbolic("aten::cosh", _cosh, OPSET)


@contextmanager
def _native_output_discarded() -> Iterator[None]:
    """Standard output and error of native code dropped: the TorchScript exporter prints its whole
    graph when it fails (its log is left on in torch 2.13), which would bury the one-line error."""
    import ctypes
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                ctypes.CDLL(None).fflush(None)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _name_dynamic_outputs(proto: Any, outputs: list[str]) -> None:
    """Output axes without a size or name get a name, so that ONNX Runtime checks nothing there."""
    for value in proto.graph.output:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis == 0:
                dim.dim_param = "batch"
            elif not dim.HasField("dim_value") and not dim.dim_param:
                dim.dim_param = f"{value.name}_axis{axis}"


def session(proto_or_path: Any):
    """An ONNX Runtime CPU session on a model (a ``ModelProto``, bytes or a path)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's concern
    payload = (
        proto_or_path.SerializeToString()
        if hasattr(proto_or_path, "SerializeToString")
        else proto_or_path
    )
    payload = str(payload) if not isinstance(payload, bytes) else payload
    return onnxruntime.InferenceSession(payload, options, providers=["CPUExecutionProvider"])


def run_session(runner: Any, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The outputs of an ONNX Runtime session on named ``arrays`` (cast to the inputs' types)."""
    types = {
        "tensor(float)": np.float32,
        "tensor(bool)": np.bool_,
        "tensor(int64)": np.int64,
        "tensor(double)": np.float64,
        "tensor(int32)": np.int32,
    }
    feed = {
        item.name: np.ascontiguousarray(arrays[item.name], dtype=types.get(item.type))
        for item in runner.get_inputs()
    }
    return runner.run(None, feed)


def check_against_torch(proto: Any, deployed: DeployedNetwork, specs: list[InputSpec]) -> float:
    """The largest |ONNX - PyTorch| on inputs of another batch size and length than the traced ones.

    Raises a one-line error when the two differ by more than ``ATOL + RTOL |torch|``.
    """
    length = next((s.shape[0] + 3 for s in specs if s.axes.get(1) == "length"), None)
    edges = next((s.shape[0] + 5 for s in specs if s.axes.get(1) == "edges"), None)
    arrays = example_inputs(specs, batch=5, length=length, edges=edges, seed=2)
    try:
        got = run_session(session(proto), arrays)
    except Exception as error:
        raise UserError(
            f"the exported file does not run in ONNX Runtime on another batch size or "
            f"length ({type(error).__name__}: {first_line(error)})"
        ) from None
    with torch.no_grad():
        want = deployed(*(torch.from_numpy(arrays[spec.name]) for spec in specs))
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    worst = 0.0
    for label, mine, theirs in zip(("scores", "uncertainty"), got, want, strict=False):
        theirs = theirs.numpy()
        if mine.shape != theirs.shape:
            raise UserError(
                f"the exported {label} have shape {mine.shape} where PyTorch gives "
                f"{theirs.shape} (another batch size or length)"
            )
        excess = np.abs(mine - theirs) - (ATOL + RTOL * np.abs(theirs))
        worst = max(worst, float(np.max(np.abs(mine - theirs), initial=0.0)))
        if np.any(excess > 0) or not np.all(np.isfinite(mine) == np.isfinite(theirs)):
            raise UserError(f"the exported {label} differ from PyTorch's by up to {worst:.3g}")
    return worst


def set_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """``metadata`` as the model's ``metadata_props`` (strings as they are, others as JSON)."""
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)


def read_metadata(proto: Any) -> dict[str, Any]:
    """The ``metadata_props`` of a model, JSON values decoded (inverse of :func:`set_metadata`)."""
    out: dict[str, Any] = {}
    for entry in proto.metadata_props:
        try:
            out[entry.key] = json.loads(entry.value)
        except json.JSONDecodeError:  # a plain string
            out[entry.key] = entry.value
    return out


__all__ = [
    "ADAPTIVE_SOLVER",
    "ATOL",
    "EXPORTERS",
    "NOT_EXPORTABLE",
    "RTOL",
    "DeployedNetwork",
    "Exported",
    "InputSpec",
    "check_against_torch",
    "example_inputs",
    "export_network",
    "input_specs",
    "read_metadata",
    "refusal",
    "require_onnx",
    "run_session",
    "session",
    "set_metadata",
]
