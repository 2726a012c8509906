"""Deployment: fitted estimators written in formats that run without quanta (ONNX).

``quanta export RUN_DIR`` (:func:`export_run`) writes each finished method of
a run as one ONNX file: a network with its input standardisation, task scores
and target scaling folded into the graph (:mod:`quanta.export.onnx_network`),
a classical method through its converter (:mod:`quanta.export.classical`).
By default the file is ``<method>/model.onnx`` in the run directory, written
atomically with its SHA-256 in the folder's manifest; ``out`` writes it
elsewhere instead. ``quanta predict --engine onnx`` scores new files with
these files (:mod:`quanta.export.scoring`).

Every file carries ``metadata_props``: the method's name in the run
(``name``), the model (``model``; ``method`` for a classical one), the quanta
version, the task (and its parameters), the hyperparameters (JSON), the inputs
(names, dtypes, shapes with named dynamic axes, feature names), the outputs
(and class names), and the exporter that made it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from quanta.errors import UserError, unknown_name

FORMATS = ("onnx",)  # what --format accepts
ONNX_FILE = "model.onnx"  # a method's exported file in its folder


def export_run(
    run_dir: str | Path,
    format: str = "onnx",
    methods: list[str] | None = None,
    out: str | Path | None = None,
) -> list[Path]:
    """Export the finished methods of a run; return the written files.

    Args:
        run_dir: a run directory (of ``quanta run`` or a saved ``quanta.fit`` run).
        format: ``onnx``.
        methods: the methods to export (default: every method of the run; then one that
            cannot be exported is skipped with a line on stderr naming why, and the call
            fails only if none can).
        out: where to write instead of ``<method>/model.onnx``: the file for one
            method, a folder (``<method>.onnx`` each) for several or when it is one.
    """
    from quanta.export.onnx_network import require_onnx
    from quanta.rundir import RunDirectory

    if format not in FORMATS:
        raise UserError(f"--format {format}: quanta export writes {', '.join(FORMATS)}")
    run = RunDirectory.open(run_dir)
    raw = run.read_config()
    entries = {
        e["name"]: e for e in raw.get("methods") or [] if isinstance(e, dict) and "name" in e
    }
    for name in methods or []:
        if name not in entries:
            raise unknown_name("method of this run", name, entries)
    chosen = list(dict.fromkeys(methods or entries))
    agents = [name for name in chosen if entries[name].get("agent")]
    if agents:  # a policy acts in an environment: there is no input tensor to score
        raise UserError(f"{run.path}: {', '.join(agents)}: quanta export writes networks and classical "
                        "methods; a reinforcement-learning agent is kept as <method>/agent.safetensors")
    targets = _targets(run, chosen, out)
    require_onnx()
    record = run.read_data() or {}
    written, refused = [], []
    for name in chosen:
        folder = run.method(name)
        try:
            if not folder.finished:
                raise UserError(
                    f"{folder.path}: method '{name}' has not finished; nothing to export "
                    "(resume the run with quanta run --resume)"
                )
            proto = _exported(entries[name], folder.path, raw, record)
        except UserError as error:
            if methods:  # named by the user: its refusal is the answer
                raise
            refused.append(error)  # the whole run: the others are still exported
            print(f"quanta export: {name} not exported: {error}", file=sys.stderr)
            continue
        payload = proto.SerializeToString()
        target = targets[name]
        if target is None:
            with run.lock():
                written.append(folder.write_bytes(ONNX_FILE, payload))
        else:
            written.append(_write_file(target, payload))
    if refused and not written:
        if len(refused) == 1:
            raise refused[0]
        raise UserError(f"{run.path}: none of its {len(refused)} methods can be exported to ONNX "
                        "(each is named above, with why)")
    return written


def _targets(run: Any, names: list[str], out: str | Path | None) -> dict[str, Path | None]:
    """Where each method's file goes: None for its method folder, else a path below ``out``."""
    for name in names:  # a name like ../x in a copied config.yaml never leaves the run directory
        run.method(name)
    if out is None:
        return dict.fromkeys(names)
    out = Path(out)
    if len(names) == 1 and not out.is_dir():
        if out.suffix.lower() != ".onnx":
            raise UserError(f"--out {out}: an ONNX file is named *.onnx (or give a folder)")
        return {names[0]: out}
    if out.exists() and not out.is_dir():
        raise UserError(
            f"--out {out}: several methods write one file each into a folder, but this is a file"
        )
    return {name: out / f"{name}.onnx" for name in names}


def _write_file(target: Path, payload: bytes) -> Path:
    """``payload`` written atomically to ``target`` (a temporary file renamed into place)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(payload)
        os.replace(partial, target)
    except OSError as error:
        raise UserError(
            f"--out {target}: cannot be written ({error.strerror or type(error).__name__})"
        ) from None
    return target


def _exported(
    entry: dict[str, Any], directory: Path, raw: dict[str, Any], record: dict[str, Any]
) -> Any:
    """The ONNX model of one finished method (its files checked against the manifest)."""
    from quanta import __version__, estimators

    name = entry["name"]
    task = raw.get("task", "binary")
    metadata = {
        "name": name,
        "quanta_version": __version__,
        "task": task,
        "task_params": raw.get("task_params") or {},
        "hyperparameters": entry.get("params") or {},
        "feature_names": record.get("feature_names") or [],
        "class_names": record.get("classes") or [],
    }
    kind = estimators.kind_of(entry)
    if kind.key == "method":
        return _classical(entry, directory, record, metadata)
    from quanta.config import MODULE

    if entry.get("model") == MODULE:
        raise UserError(
            f"{name}: a torch.nn.Module passed from Python cannot be rebuilt from the "
            "run directory; export it from Python with "
            "quanta.export.onnx_network.export_network(run.estimator, shapes, name)"
        )
    from quanta.export.onnx_network import export_network

    network = estimators.load(entry, directory)
    spec = network.spec
    metadata.update(
        model=spec["model"],
        standardized=network.transform is not None,
        target_scaling=network.target_scaling is not None,
    )
    shapes = {key: tuple(value) for key, value in spec["shapes"].items()}
    return export_network(network, shapes, spec["model"], metadata).model


def _classical(
    entry: dict[str, Any], directory: Path, record: dict[str, Any], metadata: dict[str, Any]
) -> Any:
    """A classical method through its library's converter (:mod:`quanta.export.classical`)."""
    import math

    from quanta import estimators
    from quanta.export import classical

    method = estimators.load(entry, directory)
    shape = record.get("input_shape") or [len(record.get("feature_names") or [])]
    return classical.to_onnx(method, math.prod(shape), metadata)


__all__ = ["FORMATS", "ONNX_FILE", "export_run"]
