"""Inference throughput of three networks: PyTorch eager, torch.compile and ONNX Runtime on CPU.

Models, each a quanta run of one epoch on random events (speed does not depend on the weights):

  mlp          30 features -> 128 -> 128 -> 1
  cnn          40x40 jet images, one channel (the cnn's default stages 16, 32, 64)
  particlenet  30 constituents of 7 features with a mask (the model's defaults, k = 16)

Each is run in evaluation mode without gradients at batch 1 and batch 1024:

  eager   what quanta exports (the model and the task's scores) called directly
  compile torch.compile of it (inductor; the compile time is left out, as a warm-up)
  onnx    the file `quanta export` writes (quanta.export.onnx_network.export_network: a dynamic
          batch axis, the exporter it chooses) run by ONNX Runtime's CPU provider, intra-op
          threads fixed to --threads, one inter-op thread

and the events per second of eager (batch / the median time of one call) and the ratio of the
others to eager are printed, all in one run, with the largest |onnx - eager| of the outputs (a
backend that fails is named with its error). Inputs are made beforehand, outside the timing.
Usage:

    python benchmarks/inference.py [--threads 2] [--seconds 1.0] [--batches 1 1024]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import quanta
from quanta.data.dataset import from_arrays
from quanta.errors import first_line
from quanta.export.onnx_network import DeployedNetwork, example_inputs, export_network, input_specs

# name -> (registered model, params, per-sample x shape, uses a mask)
MODELS_RUN = {
    "mlp": ("mlp", {"hidden": [128, 128]}, (30,), False),
    "cnn": ("cnn", {}, (1, 40, 40), False),
    "particlenet": ("particlenet", {}, (30, 7), True),
}


def fitted(name: str, params: dict, shape: tuple[int, ...], masked: bool):
    """A quanta run of the model for per-sample inputs ``shape`` (one epoch on random events:
    speed does not depend on the weights), unstandardised, so that eager and ONNX compute alike."""
    x, *mask = inputs(shape, masked, 96, seed=1)
    y = np.random.default_rng(2).integers(0, 2, 96)
    data = from_arrays(x, y, **({"mask": mask[0]} if mask else {}))
    return quanta.fit(name, data, task="binary", params=params, epochs=1, standardize=False)


def deployed(run) -> tuple[torch.nn.Module, object, str]:
    """The module quanta exports (model and task scores) and its ONNX file, by ``quanta export``'s
    own path (:func:`quanta.export.onnx_network.export_network`), and the exporter it used."""
    network = run.estimator
    shapes = {key: tuple(value) for key, value in network.spec["shapes"].items()}
    exported = export_network(network, shapes, network.spec["model"])
    specs = input_specs(network.model, shapes, standardized=False)
    example = {k: torch.from_numpy(v) for k, v in example_inputs(specs, batch=3, seed=1).items()}
    module = DeployedNetwork(network.model, network.task, [s.name for s in specs], None, None,
                             example).eval()
    return module, exported.model, exported.exporter


def inputs(shape: tuple[int, ...], masked: bool, batch: int, seed: int = 0) -> list[np.ndarray]:
    """``[x]`` or ``[x, mask]`` for ``batch`` events: normal features, 15 to 30 valid particles."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, *shape)).astype(np.float32)
    if not masked:
        return [x]
    lengths = rng.integers(shape[0] // 2, shape[0] + 1, size=batch)
    mask = np.arange(shape[0])[None, :] < lengths[:, None]
    return [x * mask[..., None], mask]


def rate(call: Callable[[], object], batch: int, seconds: float) -> float:
    """Events per second of ``call`` (one batch): ``batch`` / the median time of one call.

    Three warm-up calls, then calls for at least ``seconds`` (and at least 5). The median,
    not the mean: on a machine shared with other jobs a call now and then waits for a core
    (measured: the same batch-1 CNN call in 1.2 ms or 290 ms).
    """
    for _ in range(3):
        call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return batch / float(np.median(times))


def eager(model: torch.nn.Module, arrays: list[np.ndarray]) -> Callable[[], object]:
    tensors = [torch.from_numpy(a) for a in arrays]

    def call():
        with torch.no_grad():
            return model(*tensors)

    return call


def compiled(model: torch.nn.Module, arrays: list[np.ndarray]) -> Callable[[], object]:
    """torch.compile of the model for this batch size; compiled by the first call (a warm-up)."""
    torch._dynamo.reset()
    program = torch.compile(model, dynamic=False)
    call = eager(program, arrays)
    call()  # compile now: an error is the backend's, not the timing's
    return call


def onnx_session(proto, threads: int):
    """An ONNX Runtime CPU session of the file, ``threads`` intra-op threads, one inter-op."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])


def onnx_runtime(session, arrays: list[np.ndarray]) -> Callable[[], object]:
    feed = {item.name: array for item, array in zip(session.get_inputs(), arrays, strict=True)}
    return lambda: session.run(None, feed)


def agreement(session, model: torch.nn.Module, arrays: list[np.ndarray]) -> float:
    """The largest |ONNX - eager| of the outputs on these inputs (the export is the same model)."""
    (mine,) = onnx_runtime(session, arrays)()
    with torch.no_grad():
        theirs = model(*(torch.from_numpy(a) for a in arrays)).numpy()
    return float(np.max(np.abs(mine - theirs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per measurement")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime

    print(f"CPU, {args.threads} threads, torch {torch.__version__}, onnxruntime "
          f"{onnxruntime.__version__}; events/s of eager, the others as ratios to eager")
    print(f"  {'model':12s} {'batch':>6s} {'eager ev/s':>12s} {'compile':>8s} {'onnx':>8s} "
          f"{'|onnx-eager|':>13s} {'exporter':>12s}")
    failures: list[str] = []
    for label, (name, params, shape, masked) in MODELS_RUN.items():
        run = fitted(name, params, shape, masked)
        model, proto, exporter = deployed(run)
        session = onnx_session(proto, args.threads)
        for batch in args.batches:
            arrays = inputs(shape, masked, batch)
            base = rate(eager(model, arrays), batch, args.seconds)
            try:
                ratio = f"{rate(compiled(model, arrays), batch, args.seconds) / base:8.2f}"
            except Exception as error:  # inductor's failures are many types too
                ratio = f"{'fails':>8s}"
                failures.append(f"{label} batch {batch}: torch.compile: {type(error).__name__}: "
                                f"{first_line(error)}")
            onnx = f"{rate(onnx_runtime(session, arrays), batch, args.seconds) / base:8.2f}"
            difference = f"{agreement(session, model, arrays):13.1e}"
            print(f"  {label:12s} {batch:6d} {base:12,.0f} {ratio} {onnx} {difference} "
                  f"{exporter:>12s}", flush=True)
    for failure in failures:
        print(f"  failed: {failure}")


if __name__ == "__main__":
    main()
