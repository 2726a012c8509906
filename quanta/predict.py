"""Predictions written back to the physicist's files: ``quanta predict``.

A run trained from the ``files`` source knows how its inputs were made: the
``derived`` columns, the ``selection``, the ``features`` (or the padded
``collection``) and the ROOT ``tree``. New files - usually without labels - are
read the same way, every saved method scores them with its saved transform,
and one output file per input is written, row-aligned with the input's
selected rows: ``score_<method>`` (binary), ``score_<method>_<k>``
(multiclass), ``prediction_<method>`` (regression), and ``uncertainty_<method>``
where the method gives one (a Gaussian head, MC dropout, an ensemble's
spread), next to the pass-through columns named by ``keep`` (event numbers,
weights, observables).

Outputs are Parquet (``.parquet``), HDF5 (``.h5``/``.hdf5``, one dataset per
column) or ROOT (``.root``, a TTree named ``predictions``). With several inputs
``out`` is a folder and each output is named after its input's stem. ``format``
(``--format``) chooses the format explicitly; without it the suffix of ``out``
decides (see :func:`output_paths`), and a suffix naming another format is an error.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError, closest, unknown_name
from quanta.rundir import RunDirectory

OUTPUT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".h5": "hdf5", ".hdf5": "hdf5", ".root": "root"}
OUTPUT_FORMATS = ("parquet", "hdf5", "root")  # what --format accepts: what TableWriter writes
FORMAT_SUFFIX = {"parquet": ".parquet", "hdf5": ".h5", "root": ".root"}  # of a folder's outputs
TREE = "predictions"  # the TTree of ROOT outputs
CHUNK_ROWS = 200_000  # rows of a new file read and scored at a time
ENGINES = ("torch", "onnx")  # what scores: the saved estimators, or their ONNX exports


def predict_files(run_dir: str | Path, paths: list[str | Path], out: str | Path,
                  methods: list[str] | None = None, keep: tuple[str, ...] | list[str] = (),
                  tree: str | None = None, format: str | None = None,
                  engine: str = "torch") -> list[Path]:
    """Score new files with the methods of a run trained from files; return the written paths.

    Args:
        run_dir: a run directory whose ``config.yaml`` has ``data.source: files``.
        paths: the new files (labels are not needed).
        out: the output file for one input (its suffix picks the format unless
            ``format`` is given); a folder for several (see :func:`output_paths`).
        methods: the methods to apply (default: every method of the run).
        keep: flat input columns (derived ones included) copied next to the scores.
        tree: the TTree of ROOT inputs (default: the run's ``tree``).
        format: ``parquet``, ``hdf5`` or ``root`` (default: from the suffix of ``out``).
        engine: ``torch`` (the saved estimators) or ``onnx`` (each method's ``model.onnx``
            of ``quanta export``, run by ONNX Runtime: :mod:`quanta.export.scoring`).
    """
    format = check_format(format)
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: allowed: {', '.join(ENGINES)}")
    run = RunDirectory.open(run_dir)
    raw = run.read_config()
    data = raw.get("data") or {}
    if any(isinstance(e, dict) and e.get("agent") for e in raw.get("methods") or []):
        raise UserError(f"{run.path}: this run's methods are reinforcement-learning agents, evaluated "
                        "on an environment's episodes; quanta predict scores files with networks and "
                        "classical methods")
    if file_reading(run, raw) is None:
        raise UserError(f"{run.path}: this run was trained from the '{data.get('source')}' source, not from files; "
                        "quanta predict reads new files the way a 'files' run read its own")
    entries = _method_entries(raw, methods)
    paths = [str(p) for p in paths]
    if not paths:
        raise UserError("predict: give at least one input file")
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"{path}: no such file")
    targets = output_paths(paths, out, format)
    inputs_given = {Path(path).resolve() for path in paths}
    for target in targets:  # an unwritable --out fails before any model is loaded
        if target.resolve() in inputs_given:
            raise UserError(f"--out {target}: is one of the input files; scores are written to a new file")
        _writable_folder(target)
    for name in entries:  # a name like ../x in a copied config.yaml never leaves the run directory
        run.method(name)
    estimators: dict[str, Any] = {}
    from quanta.estimators import predict_with_uncertainty
    from quanta.tasks.evaluation import evaluation_of

    prefix = evaluation_of(raw.get("task", "binary")).prediction
    reader = FileInputs(run, raw, tree, keep)
    written = []
    for path, target in zip(paths, targets, strict=True):
        with TableWriter(target, format) as writer:
            for dataset, columns in reader.chunks(path):
                table: dict[str, np.ndarray] = {}
                for name in keep:
                    if name not in columns:
                        guess = closest(name, columns)
                        hint = f"; did you mean '{guess}'?" if guess else ""
                        raise UserError(f"{path}: --keep column '{name}' not found{hint} "
                                        f"columns: {', '.join(columns)}")
                    value = columns[name]
                    if not isinstance(value, np.ndarray) or value.ndim != 1:
                        raise UserError(f"{path}: --keep column '{name}' is not one value per row; keep flat columns")
                    table[name] = value
                if len(dataset) == 0:
                    continue
                estimators = estimators or _load(run, entries, engine)  # once a file is usable
                for method, estimator in estimators.items():
                    score, sigma = predict_with_uncertainty(estimator, dataset)
                    table.update(score_columns(method, prefix, score))
                    if sigma is not None:  # a Gaussian head, MC dropout, an ensemble's spread
                        table.update(score_columns(method, "uncertainty", sigma))
                writer.append(table)
            if writer.rows == 0:
                raise UserError(f"{path}: selection '{reader.data.get('selection')}' keeps none of its rows; "
                                "nothing to score")
        written.append(target)
    return written


class FileInputs:
    """Reads new files the way a run read its training files: same derived columns, selection and inputs.

    :meth:`chunks` yields, chunk by chunk (:data:`CHUNK_ROWS` rows of the
    file at a time, so that files larger than memory can be scored), the
    model inputs as a :class:`Dataset` and the chunk's selected and derived
    columns, row-aligned with it. The feature names are the run's own
    (``data.json``), so new files without labels or with extra columns give
    the same inputs. Only the columns the inputs and ``keep`` need are read.
    """

    def __init__(self, run: RunDirectory, raw: dict[str, Any], tree: str | None = None, keep: Any = ()):
        data = file_reading(run, raw) or {}
        self.data = data
        self.keep = list(keep)
        self.tree = tree if tree is not None else data.get("tree")
        self.collection = list(data.get("collection") or [])
        self.names = list(self.collection) or _training_features(run, data, self.tree)

    def chunks(self, path: str):
        from quanta.data.dataset import Dataset
        from quanta.data.files import feature_names, inputs
        from quanta.data.files.expressions import evaluate
        from quanta.data.files.inputs import Inputs, flat, select_rows
        from quanta.data.files.readers import chunk_bounds, column_names, format_of, read

        data = self.data
        fmt = data.get("format") if data.get("format", "auto") != "auto" else format_of(path)
        spec = Inputs(list(self.names or data.get("features") or []), dict(data.get("derived") or {}),
                      data.get("selection"), [], None, self.collection, int(data.get("pad_length") or 0),
                      data.get("sort_by"), carried=dict(data.get("arrays") or {}))
        available = column_names(path, fmt, self.tree)
        for name in self.keep:
            if name not in available and name not in spec.derived:
                known = [*available, *spec.derived]
                guess = closest(name, known)
                hint = f"; did you mean '{guess}'?" if guess else ""
                raise UserError(f"{path}: --keep column '{name}' not found{hint} columns: {', '.join(known)}")
        needed = spec.needed(available, path) if spec.features or spec.collection else None
        if needed is not None:
            needed |= {name for name in self.keep if name in available}
        for start, stop in chunk_bounds(path, fmt, self.tree, CHUNK_ROWS):
            columns = select_rows(read(path, fmt, self.tree, needed, start, stop), spec.derived, spec.selection,
                                  path, allow_empty=True)
            if self.names is None:
                self.names = feature_names(data.get("features") or [], columns, data.get("label"),
                                           data.get("weight"), path, list((data.get("arrays") or {}).values()))
            arrays = inputs(columns, self.names, self.collection, spec.pad_length, spec.sort_by, path)
            for name, expression in spec.carried.items():  # the named arrays a method reads (a condition)
                arrays[name] = flat(evaluate(expression, columns, path), f"arrays.{name} '{expression}'", path)
            yield Dataset(arrays, name=Path(path).name, feature_names=self.names), columns


class TableWriter:
    """Writes flat columns to ``target`` chunk by chunk, in ``format`` (default: its suffix's)."""

    def __init__(self, target: Path, format: str | None = None):
        self.target = target
        self.format = check_format(format) or _format_of_output(target)
        self.handle: Any = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *failure: Any) -> None:
        self.close()

    def append(self, table: dict[str, np.ndarray]) -> None:
        try:
            self._append(table)
        except OSError as error:
            raise UserError(f"--out {self.target}: cannot be written "
                            f"({error.strerror or type(error).__name__})") from None
        self.rows += len(next(iter(table.values())))

    def _append(self, table: dict[str, np.ndarray]) -> None:
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            arrow = pa.table({name: pa.array(value) for name, value in table.items()})
            if self.handle is None:
                self.target.parent.mkdir(parents=True, exist_ok=True)
                self.handle = pq.ParquetWriter(self.target, arrow.schema)
            self.handle.write_table(arrow)
        elif self.format == "hdf5":
            import h5py

            if self.handle is None:
                self.handle = h5py.File(self.target, "w")
                for name, value in table.items():
                    self.handle.create_dataset(name, data=value, maxshape=(None,), chunks=True)
                return
            for name, value in table.items():
                dataset = self.handle[name]
                dataset.resize(len(dataset) + len(value), axis=0)
                dataset[-len(value):] = value
        else:
            import uproot

            if self.handle is None:
                self.handle = uproot.recreate(self.target)
                self.handle.mktree(TREE, {name: value.dtype for name, value in table.items()})
            self.handle[TREE].extend(table)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def output_paths(paths: list[str], out: str | Path, format: str | None = None) -> list[Path]:
    """One output per input: ``out`` itself for one input, ``out/<input stem><suffix>`` for several.

    For one input ``out`` is the file (unless it is an existing folder): its
    suffix gives the format, or ``format`` does and the file is written under
    the name given. For a folder the format is ``format``, else the folder's
    own suffix when it names one (``preds.root/``), else the input's when it is
    an output format, else Parquet. A suffix of ``out`` that names another
    format than ``format`` is an error.
    """
    format = check_format(format)
    out = Path(out)
    if len(paths) == 1 and not out.is_dir():
        if format is None:
            _format_of_output(out)
        else:
            _agrees(out, format, folder=False)
        return [out]
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: several inputs write one file each into a folder, but this is a file")
    if format is not None:
        _agrees(out, format, folder=True)
    stems = [Path(p).stem for p in paths]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise UserError(f"predict: several inputs share the stem {', '.join(duplicates)}; "
                        "outputs in one folder are named after the input's stem")
    targets = []
    for path, stem in zip(paths, stems, strict=True):
        named = [s for s in (out.suffix.lower(), Path(path).suffix.lower()) if s in OUTPUT_SUFFIXES]
        if format is not None:
            named = [s for s in named if OUTPUT_SUFFIXES[s] == format] or [FORMAT_SUFFIX[format]]
        targets.append(out / f"{stem}{named[0] if named else '.parquet'}")
    return targets


def check_format(format: str | None) -> str | None:
    """``format`` if predict writes it (None: from the suffix), else a one-line error."""
    if format is None or format in OUTPUT_FORMATS:
        return format
    guess = closest(format, OUTPUT_FORMATS)
    hint = f"; did you mean '{guess}'?" if guess else ""
    raise UserError(f"--format {format}: predict cannot write {format}{hint or ';'} "
                    f"allowed: {', '.join(OUTPUT_FORMATS)}")


def _agrees(out: Path, format: str, folder: bool) -> None:
    """A one-line error when the suffix of ``out`` names a format other than ``format``.

    A file's suffix may name any data format (``x.csv`` is CSV); a folder's
    names one only when it is an output suffix (``preds.root/``), as without ``--format``.
    """
    from quanta.data.files.readers import SUFFIXES

    suffix = out.suffix.lower()
    named = OUTPUT_SUFFIXES.get(suffix, None if folder else SUFFIXES.get(suffix))
    if named is not None and named != format:
        matching = ", ".join(s for s, f in OUTPUT_SUFFIXES.items() if f == format)
        raise UserError(f"--out {out} and --format {format} disagree: the suffix '{suffix}' "
                        f"names {named}; drop one of them or use a suffix of {format} ({matching})")


def _format_of_output(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise UserError(f"--out {out}: cannot tell the output format from the suffix '{suffix}'; "
                        f"use one of {', '.join(OUTPUT_SUFFIXES)}, or --format "
                        f"{'|'.join(OUTPUT_FORMATS)} (or an existing folder for several inputs)")
    return OUTPUT_SUFFIXES[suffix]


def _method_entries(raw: dict[str, Any], wanted: list[str] | None) -> dict[str, dict[str, Any]]:
    """The ``methods:`` entries of the run to apply: the named ones (default: all)."""
    entries = {entry["name"]: entry for entry in raw.get("methods") or [] if isinstance(entry, dict)}
    for name in wanted or []:
        if name not in entries:
            raise unknown_name("method of this run", name, entries)
    chosen = {name: entries[name] for name in wanted or entries}
    for name, entry in chosen.items():
        if entry.get("data"):
            raise UserError(f"{name}: was trained on another view of the data ({entry['data']}); "
                            "predict applies methods that read the run's own data block")
    return chosen


def _writable_folder(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out {target}: cannot be written ({error.strerror or type(error).__name__})") from None


def file_reading(run: RunDirectory, raw: dict[str, Any]) -> dict[str, Any] | None:
    """How the run read its training files (the ``files`` source's parameters); None if it read none.

    A run of ``quanta run`` holds them in ``config.yaml``; a run of
    ``quanta.fit`` on a data set of the ``files`` source, in ``data.json``.
    """
    from quanta.config import ARRAYS

    data = raw.get("data") or {}
    if data.get("source") == "files":
        return data
    reading = ((run.read_data() or {}).get("info") or {}).get("reading")
    if data.get("source") == ARRAYS and isinstance(reading, dict):
        return {"source": "files", **reading}
    return None


def _load(run: RunDirectory, entries: dict[str, dict[str, Any]],
          engine: str = "torch") -> dict[str, Any]:
    """``{method name: estimator}`` from the run's method folders (``onnx``: their exports)."""
    from quanta import estimators

    if engine == "onnx":
        from quanta.export.scoring import load_exported

        return load_exported(run, list(entries))
    return {name: estimators.load(entry, run.method(name).path) for name, entry in entries.items()}


def _training_features(run: RunDirectory, data: dict[str, Any], tree: str | None) -> list[str] | None:
    """The feature names of training when ``features`` was empty (every numeric column).

    Read from the run's ``data.json``; for runs written before it existed,
    resolved again from the first training file. None when the features are
    named, or nothing is known (then they are resolved on the new file).
    """
    if data.get("features"):
        return None
    record = run.read_data()
    if record is not None:
        return record.get("feature_names")
    patterns = list((data.get("classes") or {}).values()) or list(data.get("paths") or [])
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if matches and Path(matches[0]).is_file():
            from quanta.data.files import feature_names, select_rows
            from quanta.data.files.readers import format_of, read

            path = matches[0]
            columns = select_rows(read(path, format_of(path), tree), data.get("derived") or {},
                                  data.get("selection"), path)
            return feature_names([], columns, data.get("label"), data.get("weight"), path,
                                 list((data.get("arrays") or {}).values()))
    return None


def score_columns(method: str, prefix: str, score: np.ndarray) -> dict[str, np.ndarray]:
    """Output columns of one method: ``score_<m>``, ``score_<m>_<k>`` or ``prediction_<m>``.

    ``prefix`` is the task's (``quanta.tasks.evaluation``): ``score`` or ``prediction``;
    ``uncertainty`` for the standard deviations of a method that gives them.
    """
    score = np.asarray(score)
    if score.ndim == 1:
        return {f"{prefix}_{method}": score}
    score = score.reshape(len(score), -1)
    if score.shape[1] == 1:
        return {f"{prefix}_{method}": score[:, 0]}
    return {f"{prefix}_{method}_{k}": score[:, k] for k in range(score.shape[1])}


__all__ = ["predict_files", "FileInputs", "TableWriter", "output_paths", "score_columns",
           "OUTPUT_FORMATS"]
