"""The run directory: one object that knows its layout and reads and writes every file of it.

    runs/<experiment>/<timestamp>/
      config.yaml          the resolved experiment              (written first; required)
      environment.json     versions, device, seed, start time   (required to resume or report)
      data.json            source, feature names, classes, split sizes
      inputs.json          the training inputs binned per class (quanta.evaluate.input_summary)
      metrics.json         {method: {split: {metric: value}, "seconds": {...}}}   (written last)
      repeats.json         with `repeat: N`: per method, split and metric the N trainings' values,
                           mean, std and the seeds (quanta.repeats)
      report.html          the report (quanta.report)
      figures/             the report's figures as PNG and PDF (replaced whole by each report; no manifest)
      manifest.json        the SHA-256 of each file above
      <method>/            one folder per method (:class:`MethodDirectory`):
        metrics.json       that method's metrics: present once it has finished
        history.jsonl      one JSON record per epoch or round
        predictions.npz    <split>[_<head>]_y, _score, _weight
        importance.json    the variable ranking: permutation importance on the validation split,
                           the trees' own importances (:meth:`MethodDirectory.write_importance`)
        ...                the estimator's own files (model.safetensors, checkpoint.safetensors, sklearn.json, ...)
        manifest.json      the SHA-256 of each file of the folder (all of them once the method has finished)
      repeats/<r>/<method>/  with `repeat: N`, repeat r = 1 .. N-1 of each method: a method folder as above

A run never overwrites another (:meth:`RunDirectory.create`). Every file is
written atomically (a temporary file renamed into place), so a killed process
leaves either the old file or the new one. Only the writing rank writes: under
``torchrun`` (``RANK`` set and not 0) the write methods do nothing, so every
rank can share one preparation and one run directory object. Reading a file
that is damaged raises :class:`quanta.errors.UserError` naming it.

Each folder keeps ``manifest.json``: the SHA-256 of every file written through
this object, and of every file of a method folder once the method has
finished (:meth:`MethodDirectory.seal`). Every read checks it, so a file whose
bits changed, or that was edited, after quanta wrote it is refused with a
message naming it rather than reported as true. A rewrite records the new
digest beside the old one before the file is replaced, and then alone, so a
kill at any moment leaves a file the manifest accepts. Files the manifest does
not list (a run from before manifests, a checkpoint during training) are read
unchecked; safetensors files check themselves (:mod:`quanta.train.checkpoint`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from quanta.config import NAME_PATTERN
from quanta.errors import UserError, first_line

PACKAGES = ("quanta", "torch", "numpy", "scikit-learn", "xgboost-cpu", "pythia8mc", "fastjet", "safetensors")

#: Method names as the experiment file allows them: safe as a folder name inside the run directory.
METHOD_NAME = re.compile(NAME_PATTERN)


def is_writing_rank() -> bool:
    """Whether this process writes the run directory: the only process, or rank 0 of a distributed run."""
    rank = os.environ.get("RANK", "0").strip() or "0"
    return rank == "0"


def _write_bytes(path: Path, payload: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(payload)
    os.replace(partial, path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (a run directory needs it)") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at "
                        f"position {error.start})") from None
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror or error})") from None


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({first_line(error)})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object, received {type(value).__name__}")
    return value


def _digest(path: Path) -> str | None:
    """SHA-256 (hex) of the file at ``path``; None if there is none."""
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror})") from None


class _Folder:
    """What both kinds of folder share: a path, the writing flag, atomic writes and the manifest."""

    MANIFEST = "manifest.json"

    def __init__(self, path: str | Path, writer: bool | None = None):
        self.path = Path(path)
        self.writer = is_writing_rank() if writer is None else writer

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def write_text(self, name: str, text: str) -> Path:
        """Write ``name`` atomically (nothing on a non-writing rank)."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, payload: bytes) -> Path:
        """Write ``name`` atomically and record its digest (nothing on a non-writing rank)."""
        target = self.path / name
        if self.writer:
            self._replace(name, payload, self._manifest(), _digest(target))
        return target

    def _replace(self, name: str, payload: bytes, manifest: dict[str, list[str]], current: str | None) -> None:
        """Replace ``name`` by ``payload``; ``current`` is the digest of the file there now (or None)."""
        new = hashlib.sha256(payload).hexdigest()
        kept = [current] if current and current in manifest.get(name, []) else []
        self._record(manifest, {name: [new, *kept]})  # a kill before the rename leaves the old file accepted
        _write_bytes(self.path / name, payload)
        self._record(manifest, {name: [new]})

    # -- the manifest -----------------------------------------------------------------------
    def _manifest(self) -> dict[str, list[str]]:
        """``{file name: accepted SHA-256 digests}``; empty when the folder has no manifest."""
        path = self.path / self.MANIFEST
        if not path.is_file():
            return {}
        manifest = _read_json_object(path)
        if not all(isinstance(v, list) and all(isinstance(d, str) for d in v) for v in manifest.values()):
            raise UserError(f"{path}: not a quanta manifest (expected file names mapped to lists of digests)")
        return manifest

    def _record(self, manifest: dict[str, list[str]], digests: dict[str, list[str]]) -> None:
        """Update ``manifest`` (as read from disk) with ``digests`` and write it."""
        manifest.update(digests)
        _write_bytes(self.path / self.MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())

    def _check(self, name: str, digest: str | None, manifest: dict[str, list[str]]) -> Path:
        """The path of ``name``, refused if its ``digest`` is not one the manifest accepts."""
        path = self.path / name
        accepted = manifest.get(name)
        if accepted and digest is not None and digest not in accepted:
            raise UserError(f"{path}: changed since quanta wrote it (its SHA-256 differs from the one "
                            f"in {self.MANIFEST}); it cannot be trusted: run again, or restore the file")
        return path

    def verified(self, name: str) -> Path:
        """The path of ``name`` after checking it against the manifest (unlisted files pass)."""
        manifest = self._manifest()
        return self._check(name, _digest(self.path / name) if name in manifest else None, manifest)

    def verify(self) -> None:
        """Check every file the manifest lists (a missing one is left to whoever needs it)."""
        manifest = self._manifest()
        for name in manifest:
            self._check(name, _digest(self.path / name), manifest)

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, json.dumps(value, indent=1, allow_nan=False))  # strict JSON

    def read_json(self, name: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON object in ``name``; ``default`` (when given) if the file is absent."""
        path = self.path / name
        if default is not None and not path.exists():
            return default
        return _read_json_object(self.verified(name))


class MethodDirectory(_Folder):
    """The folder of one method inside a run directory."""

    METRICS = "metrics.json"
    HISTORY = "history.jsonl"
    PREDICTIONS = "predictions.npz"
    IMPORTANCE = "importance.json"
    GENERATED = "generated.json"  # a generative method's samples compared with the test split

    @property
    def finished(self) -> bool:
        """Whether the method ran to the end (its metrics are written last)."""
        return (self.path / self.METRICS).exists()

    def create(self) -> MethodDirectory:
        if self.writer:
            self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_metrics(self, metrics: dict[str, Any], seconds: dict[str, float]) -> Path:
        return self.write_json(self.METRICS, {**metrics, "seconds": seconds})

    def read_metrics(self) -> tuple[dict[str, Any], dict[str, float]]:
        """``(metrics per split, seconds)`` of a finished method."""
        stored = self.read_json(self.METRICS)
        return stored, stored.pop("seconds", {})

    def write_history(self, history: list[dict[str, Any]]) -> Path:
        return self.write_text(self.HISTORY, "".join(json.dumps(record) + "\n" for record in history))

    def append_history(self, record: dict[str, Any]) -> None:
        """Add one epoch's record (the file is replaced whole, so a killed run keeps the epochs it finished)."""
        if self.writer:
            path, manifest = self.path / self.HISTORY, self._manifest()
            earlier = path.read_bytes() if path.is_file() else None
            current = hashlib.sha256(earlier).hexdigest() if earlier is not None else None
            self._check(self.HISTORY, current, manifest)  # never extend a history changed since it was written
            self._replace(self.HISTORY, (earlier or b"") + (json.dumps(record) + "\n").encode(), manifest, current)

    def seal(self) -> None:
        """Record the digest of every file of the finished method (the estimator's own files too)."""
        if self.writer:
            files = sorted(p for p in self.path.iterdir()
                           if p.is_file() and p.name != self.MANIFEST and not p.name.startswith("."))
            self._record(self._manifest(), {p.name: [_digest(p)] for p in files})

    def read_history(self) -> list[dict[str, Any]]:
        """The records of ``history.jsonl`` (none if it is absent)."""
        path = self.path / self.HISTORY
        if not path.is_file():
            return []
        records = []
        for number, line in enumerate(_read_text(self.verified(self.HISTORY)).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UserError(f"{path}: line {number} is not valid JSON ({first_line(error)})") from None
            if not isinstance(record, dict):
                raise UserError(f"{path}: line {number} is not a JSON object")
            records.append(record)
        return records

    def write_predictions(self, arrays: dict[str, np.ndarray]) -> Path:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return self.write_bytes(self.PREDICTIONS, buffer.getvalue())

    def read_predictions(self) -> dict[str, np.ndarray]:
        """The arrays of ``predictions.npz`` (none if it is absent)."""
        path = self.path / self.PREDICTIONS
        if not path.is_file():
            return {}
        try:
            with self.verified(self.PREDICTIONS).open("rb") as stream:
                if stream.read(4) != b"PK\x03\x04":  # else numpy tries it as a pickle and advises one
                    raise UserError(f"{path}: not a NumPy .npz archive (it does not start as a zip file)")
                stream.seek(0)
                with np.load(stream, allow_pickle=False) as archive:
                    return {key: archive[key] for key in archive.files}
        except UserError:
            raise
        except Exception as error:  # numpy raises many types for a damaged archive
            raise UserError(f"{path}: not a readable NumPy .npz archive ({first_line(error)})") from None

    def write_generated(self, record: dict[str, Any]) -> Path:
        """Write the comparison of a generative method's samples with the test split
        (:func:`quanta.evaluate.generated.compare_samples`)."""
        return self.write_json(self.GENERATED, record)

    def read_generated(self) -> dict[str, Any] | None:
        """The comparison of generated with test samples, or None for a method that does not generate."""
        if not (self.path / self.GENERATED).is_file():
            return None
        return self.read_json(self.GENERATED)

    def write_importance(self, record: dict[str, Any]) -> Path:
        """Write the method's variable ranking (:func:`quanta.ranking.variable_ranking`)."""
        return self.write_json(self.IMPORTANCE, record)

    def read_importance(self) -> dict[str, Any] | None:
        """The method's variable ranking, or None when it has none (a run from before rankings).

        ``features`` is a list of ``{"name", "drop", "drop_std", "trees"}`` (each number optional);
        a file of another form is refused in one line naming it.
        """
        path = self.path / self.IMPORTANCE
        if not path.is_file():
            return None
        record = self.read_json(self.IMPORTANCE)
        features = record.get("features")
        if not isinstance(features, list) or not all(
                isinstance(f, dict) and isinstance(f.get("name"), str)
                and all(isinstance(f[k], (int, float)) and not isinstance(f[k], bool)
                        for k in ("drop", "drop_std", "trees") if k in f) for f in features):
            raise UserError(f"{path}: not a quanta variable ranking (expected 'features': a "
                            "list of {name, drop, drop_std, trees} with numbers)")
        return record


class RunDirectory(_Folder):
    """A run directory (see the module docstring for its layout)."""

    CONFIG = "config.yaml"
    ENVIRONMENT = "environment.json"
    DATA = "data.json"
    INPUTS = "inputs.json"
    METRICS = "metrics.json"
    REPORT = "report.html"
    REPEATS = "repeats.json"  # the spread over repeated trainings (quanta.repeats)
    REPEATS_FOLDER = "repeats"  # repeats/<r>/<method>/: repeat r of each method
    #: The files that make a folder a run directory.
    MARKERS = (CONFIG, ENVIRONMENT)

    @classmethod
    def create(cls, parent: str | Path, name: str | None = None) -> RunDirectory:
        """A new, empty ``parent/<timestamp>`` folder (a clash gets a numbered suffix), never an existing one.

        ``name`` fixes the folder's name instead, for ranks that share the name the writing rank chose.
        """
        parent = cls.check_parent(parent)
        if name is not None:
            return cls(parent / name)
        if not is_writing_rank():
            raise UserError(f"rank {os.environ.get('RANK')}: only rank 0 creates a run directory; "
                            "pass the name it chose")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"{parent}: cannot create a run directory here ({error.strerror})") from None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            candidate = parent / (stamp if attempt == 0 else f"{stamp}-{attempt + 1}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return cls(candidate)
        raise UserError(f"{parent}: could not create a new run directory")

    LOCK = ".lock"  # held (flock) by the process working in the run directory

    @staticmethod
    def check_parent(parent: str | Path, option: str = "output (--out)") -> Path:
        """``parent`` if run directories can be made below it, else a one-line error (before any work)."""
        parent = Path(parent)
        for folder in (parent, *parent.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise UserError(f"{option} {parent}: {folder} is a file, not a folder; give a folder")
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise UserError(f"{option} {parent}: {folder} cannot be written")
                return parent
        return parent

    @contextmanager
    def lock(self) -> Iterator[RunDirectory]:
        """Hold the run directory for this process; a second process gets a one-line error naming the holder."""
        if not self.writer:
            yield self
            return
        import fcntl

        path = self.path / self.LOCK
        handle = open(path, "a+")  # noqa: SIM115 (held open while the lock is)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise UserError(f"{self.path}: in use by another quanta process (pid {holder}); "
                                "wait for it to finish or stop it") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield self
        finally:
            handle.close()  # closing releases the lock

    @classmethod
    def open(cls, path: str | Path, markers: tuple[str, ...] = MARKERS) -> RunDirectory:
        """The run directory at ``path``, else a one-line error (``markers`` are the files it must hold)."""
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"{path}: no such run directory")
        missing = [name for name in markers if not (path / name).exists()]
        if missing:
            left = {p.name for p in path.iterdir()}
            if cls.LOCK in left and left <= {cls.LOCK, cls.MANIFEST}:  # quanta made it, then was killed
                raise UserError(f"{path}: a run stopped before it began (it holds no {cls.CONFIG}); "
                                "nothing to resume: run the experiment again")
            raise UserError(f"{path}: not a quanta run directory (missing {', '.join(missing)})")
        return cls(path)

    def method(self, name: str) -> MethodDirectory:
        """The folder of method ``name`` (the name is checked never to leave the run directory)."""
        if not METHOD_NAME.match(name):
            raise UserError(f"{self.path}: method name '{name}' cannot name a folder "
                            "(letters, digits, '_', '.' and '-', starting with a letter or digit)")
        return MethodDirectory(self.path / name, self.writer)

    # -- the resolved experiment ---------------------------------------------------------------
    def write_config(self, text: str) -> Path:
        return self.write_text(self.CONFIG, text)

    def read_config(self) -> dict[str, Any]:
        """The raw experiment mapping of ``config.yaml``, read as an experiment file is."""
        from quanta.config import read_experiment

        return read_experiment(self.verified(self.CONFIG))

    def read_config_text(self) -> tuple[dict[str, Any], str]:
        """``(mapping, text)`` of ``config.yaml``, for a report that shows it as written."""
        import yaml

        from quanta.config import load_yaml

        path = self.verified(self.CONFIG)
        text = _read_text(path)
        try:
            config = load_yaml(text, path)
        except yaml.YAMLError as error:
            raise UserError(f"{path}: not valid YAML ({first_line(error)})") from None
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise UserError(f"{path}: expected a mapping of experiment keys, received {type(config).__name__}")
        return config, text

    # -- the other run-level files -------------------------------------------------------------
    def write_environment(self, seed: int, device: str) -> Path:
        return self.write_json(self.ENVIRONMENT, environment(seed, device))

    def read_environment(self) -> dict[str, Any]:
        return self.read_json(self.ENVIRONMENT, default={})

    def write_data(self, record: dict[str, Any]) -> Path:
        return self.write_json(self.DATA, record)

    def read_data(self) -> dict[str, Any] | None:
        """``data.json``, or None for runs written before it existed."""
        return self.read_json(self.DATA) if (self.path / self.DATA).exists() else None

    def write_inputs(self, summary: dict[str, Any]) -> Path:
        """``inputs.json``, compact (thousands of bin counts): strict JSON without indentation."""
        return self.write_text(self.INPUTS, json.dumps(summary, separators=(",", ":"), allow_nan=False))

    def read_inputs(self) -> dict[str, Any] | None:
        """``inputs.json`` (the binned training inputs), or None for runs written before it existed."""
        return self.read_json(self.INPUTS) if (self.path / self.INPUTS).exists() else None

    def write_metrics(self, metrics: dict[str, Any]) -> Path:
        return self.write_json(self.METRICS, metrics)

    def read_metrics(self) -> dict[str, Any]:
        return self.read_json(self.METRICS)

    def write_repeats(self, record: dict[str, Any]) -> Path:
        return self.write_json(self.REPEATS, record)

    def read_repeats(self) -> dict[str, Any] | None:
        """``repeats.json``, or None for a run trained once."""
        return self.read_json(self.REPEATS) if (self.path / self.REPEATS).exists() else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment(seed: int, device: str) -> dict[str, Any]:
    """Versions, device, seed and time of a run (``environment.json``)."""
    import torch

    resolved = device
    if device == "auto":
        resolved = "cuda" if torch.cuda.is_available() else "cpu"
    info: dict[str, Any] = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": resolved,
        "seed": seed,
    }
    if resolved.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(resolved))
    for package in PACKAGES:
        info[package] = _version(package)
    info["git_commit"] = _git_commit()
    return info


__all__ = ["METHOD_NAME", "MethodDirectory", "RunDirectory", "environment", "is_writing_rank"]
