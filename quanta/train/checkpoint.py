"""Checkpoints: one safetensors file holding everything to continue training.

A checkpoint is a single ``*.safetensors`` file: a flat dictionary of named
tensors (weights, optimiser moments, RNG states, fitted transforms) plus, in
the file's header, one JSON document with the rest (epoch, step, history,
hyperparameters, the *skeletons* of nested states). Two properties matter:

- **Safe to share.** Loading parses a JSON header and copies raw tensor bytes;
  nothing is unpickled, so a malicious file cannot run code. A file that is
  not a valid checkpoint (a pickle, a ``torch.save`` archive, a truncated
  write) is a :class:`~quanta.errors.UserError` naming the file.
- **Checked on every read.** The header holds a SHA-256 of the JSON document
  and of every tensor's name, dtype, shape and bytes; a file whose bits have
  changed since it was written (a flipped weight, an edited header) is refused
  with a message naming it, never loaded as if it were what training wrote.
- **Never half-written.** The file is written to a temporary name in the same
  folder, flushed to disk, then renamed over the old one (``os.replace`` is
  atomic on POSIX and Windows): a crash leaves either the old checkpoint or the
  new one, never a mixture.

Nested states, such as an optimiser's ``state_dict()`` (int keys, tuples such
as Adam's ``betas``) or an LR scheduler's, are split by :func:`flatten_state`
into tensors and a JSON-able skeleton, and rebuilt exactly by
:func:`unflatten_state`. :func:`capture_rng` and :func:`restore_rng` do the
same for the random number generators of torch, CUDA, NumPy and Python.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch

from quanta.errors import UserError

FORMAT = "quanta.checkpoint/2"  # header tag; bump when the layout changes (2: the SHA-256)
_META_KEY = "quanta"  # header metadata key of the JSON document
_DIGEST_KEY = "quanta.sha256"  # header metadata key of the checksum of document and tensors

# Tags of the skeleton's JSON objects. A plain JSON object in a skeleton is a
# dict with string keys none of which starts with "__"; anything else is tagged.
_TENSOR, _ARRAY, _TUPLE = "__tensor__", "__ndarray__", "__tuple__"
_DICT, _FLOAT = "__dict__", "__float__"


# -- the file ---------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Write ``tensors`` and the JSON-able ``meta`` to ``path`` atomically.

    Tensors are stored on the CPU, contiguous; tensors that share memory
    (tied weights, views) are stored as separate copies. The folder is created
    if needed. If anything fails, an earlier file at ``path`` is left as it was
    and no temporary file remains.

    Raises ``TypeError`` if a value is not a tensor or ``meta`` is not
    JSON-able (a programming error, not a user one).
    """
    path = Path(path)
    for name, tensor in tensors.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            kind = type(tensor).__name__
            raise TypeError(f"checkpoint tensors must map str -> Tensor; '{name}' is {kind}")
    try:
        document = json.dumps({"format": FORMAT, "meta": meta})
    except (TypeError, ValueError) as error:
        raise TypeError(f"checkpoint meta must be JSON-able: {error}") from None

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # looked up at call time, so that a test can make the write fail
        storable = _storable(tensors)
        safetensors.torch.save_file(
            storable, str(temporary),
            metadata={_META_KEY: document, _DIGEST_KEY: _digest(document, storable)},
        )
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(tensors, meta)``.

    Tensors come back on the CPU. Nothing in the file is executed: the header
    is JSON and the tensors are raw bytes. Raises :class:`UserError` naming
    the file if it is missing or not a quanta checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint file there")
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as stream:
            header = stream.metadata() or {}
            tensors = {name: stream.get_tensor(name) for name in stream.keys()}
    except (safetensors.SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise UserError(
            f"{path}: not a valid checkpoint (unreadable safetensors file: {error})"
        ) from None
    try:
        document = json.loads(header[_META_KEY])
        if document["format"] != FORMAT:
            raise ValueError(f"format {document['format']!r}, expected {FORMAT!r}")
        meta = document["meta"]
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path}: not a quanta checkpoint (header: {error!r})") from None
    if header.get(_DIGEST_KEY) != _digest(header[_META_KEY], tensors):
        raise UserError(f"{path}: damaged: its contents differ from what was written (SHA-256 "
                        "mismatch); it cannot be trusted, train again or restore the file")
    return tensors, meta


def _digest(document: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the header document and of every tensor (name, dtype, shape, bytes), by name."""
    digest = hashlib.sha256(document.encode())
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def _storable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no two sharing memory (safetensors refuses that)."""
    storable: dict[str, torch.Tensor] = {}
    seen: set[int] = set()  # addresses of the CPU memory blocks used so far
    for name, tensor in tensors.items():
        tensor = tensor.detach().cpu().contiguous()
        if tensor.numel() > 0:
            storage = tensor.untyped_storage()
            if storage.data_ptr() in seen or tensor.nbytes != storage.nbytes():
                tensor = tensor.clone()  # a view of, or the same memory as, another tensor
            seen.add(tensor.untyped_storage().data_ptr())
        storable[name] = tensor
    return storable


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a renamed file (POSIX; Windows cannot open folders)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- nested state -----------------------------------------------------------------


def flatten_state(state: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split nested ``state`` into named tensors and a JSON-able skeleton.

    ``state`` may nest dicts (any str, int, float, bool or None keys), lists
    and tuples of tensors, NumPy arrays, ints, floats (NaN and infinities
    included), bools, strings and None, as in an optimiser's or an LR
    scheduler's ``state_dict()``. Tensors are named ``prefix.<path>`` (e.g.
    ``optimizer.state.0.exp_avg``); the skeleton records where each one goes
    and the exact type of every key and container, so that
    :func:`unflatten_state` rebuilds ``state`` exactly. The same tensor object
    reached twice is stored once.

    Raises ``TypeError`` naming the path of a value of any other type.
    """
    tensors: dict[str, torch.Tensor] = {}
    names_by_id: dict[int, str] = {}  # id of a tensor or array -> its name relative to prefix

    def store(value: torch.Tensor | np.ndarray, path: list[str]) -> str:
        if id(value) in names_by_id:
            return names_by_id[id(value)]
        relative = ".".join(path) or ("" if prefix else "tensor")
        unique, count = relative, 1
        while _join(prefix, unique) in tensors:  # keys "a.b" and ("a", "b") meet in one name
            unique, count = f"{relative}#{count}", count + 1
        if isinstance(value, np.ndarray):
            tensors[_join(prefix, unique)] = torch.from_numpy(np.ascontiguousarray(value))
        else:
            tensors[_join(prefix, unique)] = value
        names_by_id[id(value)] = unique
        return unique

    def walk(value: Any, path: list[str]) -> Any:
        if isinstance(value, torch.Tensor):
            return {_TENSOR: store(value, path)}
        if isinstance(value, np.ndarray):
            return {_ARRAY: store(value, path)}
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {_FLOAT: repr(value)}
        if isinstance(value, tuple):
            return {_TUPLE: [walk(item, [*path, str(i)]) for i, item in enumerate(value)]}
        if isinstance(value, list):
            return [walk(item, [*path, str(i)]) for i, item in enumerate(value)]
        if isinstance(value, dict):
            for key in value:
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    where = ".".join(path) or "the top level"
                    kind = type(key).__name__
                    raise TypeError(f"cannot store a state with {kind} key {key!r} at {where}")
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: walk(v, [*path, k]) for k, v in value.items()}
            return {_DICT: [[k, walk(v, [*path, str(k)])] for k, v in value.items()]}
        where = ".".join(path) or "the top level"
        kind = type(value).__name__
        raise TypeError(f"cannot store {kind} at {where} of state '{prefix}' in a checkpoint")

    return tensors, walk(state, [])


def unflatten_state(tensors: dict[str, torch.Tensor], skeleton: Any, prefix: str) -> Any:
    """Rebuild the state that :func:`flatten_state` split with this ``prefix``.

    ``tensors`` may hold other entries too (the whole checkpoint); only those
    the skeleton names are used. Raises :class:`UserError` if one is missing.
    """

    def tensor(relative: str) -> torch.Tensor:
        name = _join(prefix, relative)
        if name not in tensors:
            raise UserError(f"checkpoint is missing tensor '{name}' of state '{prefix}'")
        return tensors[name]

    def build(node: Any) -> Any:
        if isinstance(node, list):
            return [build(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(tag, value)] = node.items()
            if tag == _TENSOR:
                return tensor(value)
            if tag == _ARRAY:
                return tensor(value).numpy()
            if tag == _TUPLE:
                return tuple(build(item) for item in value)
            if tag == _DICT:
                return {key: build(item) for key, item in value}
            if tag == _FLOAT:
                return float(value)
        return {key: build(item) for key, item in node.items()}

    return build(skeleton)


def _join(prefix: str, relative: str) -> str:
    """A tensor's checkpoint name: ``prefix.relative``, or either alone if the other is empty."""
    return f"{prefix}.{relative}" if prefix and relative else prefix or relative


# -- random number generators ----------------------------------------------------


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The states of every RNG a training run draws from: ``(tensors, meta)``.

    Tensors: ``torch`` (the CPU generator), ``cuda.<i>`` (each CUDA device,
    when CUDA is available) and ``numpy`` (the 624 words of NumPy's global
    Mersenne Twister). Meta (JSON-able): the rest of NumPy's state, Python's
    ``random`` state, and the number of CUDA devices captured.
    """
    tensors = {"torch": torch.get_rng_state()}
    cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for i, state in enumerate(torch.cuda.get_rng_state_all() if cuda_devices else []):
        tensors[f"cuda.{i}"] = state
    algorithm, words, position, has_gauss, cached_gaussian = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(words.astype(np.int64))  # uint32 words, exactly
    version, internal, gauss_next = random.getstate()
    meta = {
        "cuda_devices": cuda_devices,
        "numpy": {
            "algorithm": algorithm,
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Put back the RNG states from :func:`capture_rng`.

    CUDA states are restored for the devices present; if the checkpoint was
    written with a different number of CUDA devices, a warning says that the
    continuation cannot be bit-for-bit.
    """
    try:
        torch_state = tensors["torch"]
        numpy_meta, python_meta = meta["numpy"], meta["python"]
        words = tensors["numpy"].numpy().astype(np.uint32)
    except KeyError as error:
        raise UserError(f"checkpoint has no RNG state {error}") from None
    torch.set_rng_state(torch_state.to(torch.uint8))

    saved = meta.get("cuda_devices", 0)
    present = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if saved != present:
        warnings.warn(
            f"checkpoint holds RNG states of {saved} CUDA device(s), this machine has {present}; "
            "random draws will not repeat exactly",
            stacklevel=2,
        )
    for i in range(min(saved, present)):
        torch.cuda.set_rng_state(tensors[f"cuda.{i}"].to(torch.uint8), device=i)

    np.random.set_state(
        (
            numpy_meta["algorithm"],
            words,
            numpy_meta["position"],
            numpy_meta["has_gauss"],
            numpy_meta["cached_gaussian"],
        )
    )
    random.setstate(
        (python_meta["version"], tuple(python_meta["internal"]), python_meta["gauss_next"])
    )


__all__ = [
    "FORMAT",
    "capture_rng",
    "flatten_state",
    "load_checkpoint",
    "restore_rng",
    "save_checkpoint",
    "unflatten_state",
]
