"""The ``files`` source: a physicist's own NumPy, CSV, Parquet, HDF5 or ROOT files.

Columns are read per file (:mod:`.readers`), only those the declared inputs
need; derived variables and a selection are evaluated with a safe expression
evaluator (:mod:`.expressions`), and jagged collections are padded to an
explicit length with a mask (:mod:`.jagged`); :mod:`.inputs` turns columns
into arrays. Every check on the data names the file and the column.

Data that fits the memory budget is read whole into a :class:`Dataset`;
larger data becomes a :class:`~quanta.data.stream.stream.Stream`, read from
disk chunk by chunk while training. The same experiment works either way:
the size decides, or ``streaming: always | never``.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np

from quanta.data.dataset import Dataset
from quanta.data.files.inputs import Inputs, feature_names, file_value, inputs, select_rows
from quanta.data.files.readers import column_names, count_rows, format_of, read
from quanta.data.reweight import Reweighting
from quanta.errors import UserError

FORMATS = ("npy", "npz", "csv", "parquet", "hdf5", "root")
PROBE_ROWS = 1024  # rows read to measure a row's size before choosing memory or streaming
IN_MEMORY_COPIES = 3  # a data set in memory is held about three times: read, split, standardised


# The list and dict defaults are read from the signature (listing, YAML round trip) and never mutated.
def files(
    paths: list[str] = [],  # noqa: B006
    classes: dict[str, str] = {},  # noqa: B006
    format: Literal["auto", "npy", "npz", "csv", "parquet", "hdf5", "root"] = "auto",
    tree: str | None = None,
    features: list[str] = [],  # noqa: B006
    derived: dict[str, str] = {},  # noqa: B006
    selection: str | None = None,
    label: str | list[str] | None = None,
    weight: str | None = None,
    arrays: dict[str, str] = {},  # noqa: B006
    file_arrays: dict[str, dict[str, float]] = {},  # noqa: B006
    collection: list[str] = [],  # noqa: B006
    pad_length: int = 0,
    sort_by: str | None = None,
    reweight: str | None = None,
    reweight_to: str = "flat",
    reweight_bins: int = 20,
    size: int = 0,
    seed: int = 1,
    streaming: Literal["auto", "never", "always"] = "auto",
    memory: str = "auto",
    workers: int = 2,
    chunk_rows: int = 0,
    skip_bad_files: bool = False,
) -> Any:
    """The physicist's own files: NumPy, CSV, Parquet, HDF5, ROOT, with selections, derived variables and padding

    Reads the listed files, adds derived variables, applies the selection and
    builds inputs, targets and weights, the way one works with ntuples.

    Per row (``features``): ``x`` float32 ``[N, F]``, one column per feature.
    Per element (``collection``): ``x`` float32 ``[N, P, C]`` and ``mask`` bool
    ``[N, P]``: ``C`` jagged branches, ordered by ``sort_by`` (descending) and
    padded or truncated to ``P = pad_length``.
    Targets: ``y`` int64 ``[N]`` - the index of the class whose files a row
    comes from (``classes``) - or the value of ``label``: int64 for booleans
    and integers, float32 ``[N]`` for real values, float32 ``[N, T]`` for a
    list of T labels (several regression targets). ``weight`` float32 ``[N]``.

    Args:
        paths: files or globs (``data/*.root``); all in one format.
        classes: ``{class name: glob}``; rows of a class's files get its index
            in insertion order as label (instead of ``paths`` and ``label``).
        format: the file format; ``auto`` decides from the suffix.
        tree: the TTree of ROOT files (optional when a file holds one).
        features: columns of ``x``; ``*`` patterns select several (``jet_*``).
            Empty takes every flat numeric column except label and weight.
        derived: ``{name: expression}`` new columns (``log_pt: log(pt)``),
            evaluated in order, usable by later ones, features and selection.
        selection: a cut (``pt > 500 && abs(eta) < 2``); rows failing it are dropped.
        label: a column or expression (or a list of them) giving the targets:
            booleans or class indices for a classification, numbers for a regression.
        weight: a column or expression giving per-row weights.
        arrays: ``{name: column or expression}`` per-row numbers carried with the
            data under ``name`` but not used as inputs, for a method that reads
            them (``sigma_y: dy`` for ``gaussian_process``'s ``noise: sigma_y``,
            each point's measurement uncertainty); float32 ``[N]`` each.
        file_arrays: ``{name: {file or glob: number}}`` arrays constant per file:
            every row of a file gets the value of the one entry matching its path
            (``mixture: {"data/region_a*.h5": 0, "data/region_b*.h5": 1}``: the
            mixed sample a row came from, for task ``cwola``); float32 ``[N]``.
        collection: jagged branches forming per-element features (not with ``features``).
        pad_length: the padding length ``P``; required (> 0) with ``collection``.
        sort_by: a jagged column or expression ordering a collection's elements.
        reweight: a column or expression (``jet_pt``); weights make every class's
            distribution in it the one of ``reweight_to``, class totals kept.
        reweight_to: ``flat``, ``common`` (the classes' average) or a class name.
        reweight_bins: bins (of equal population) of the reweighting histograms.
        size: 0 takes all rows; otherwise the first ``size`` rows of the shuffled order (in memory).
        seed: seeds the row order (rows of all files are shuffled together).
        streaming: ``auto`` streams from disk when the data would not fit
            ``memory``; ``always`` or ``never`` decide instead.
        memory: the memory budget (``4GB``, ``512MiB``; ``auto``: half the machine's).
        workers: background threads reading chunks ahead while streaming.
        chunk_rows: rows read at once while streaming (0: chosen from the budget).
        skip_bad_files: skip unreadable or failing files with a warning (counted
            in the run's report) instead of stopping.

    Expressions are written as ROOT's ``TTree::Draw`` takes them: column
    names, numbers, ``+ - * / % **``, comparisons (which bind tighter than
    ``&`` and ``|``, so ``pt > 500 & abs(eta) < 2`` cuts on both), ``&& || !``
    and ``and or not``, and ``log log1p exp sqrt abs fabs pow hypot arctan2
    sin cos tanh minimum maximum where clip``; they are parsed, never passed to
    ``eval``, and a mistake names its field (``data.selection: ...``).
    """
    if classes and (paths or label):
        raise UserError("files: give either classes (labels from files) or paths with an optional "
                        "label, not both")
    if features and collection:
        raise UserError("files: give features (x[N, F]) or collection (x[N, P, C]), not both")
    if collection and pad_length <= 0:
        raise UserError(f"files.pad_length: must be a positive integer when collection is used, "
                        f"received {pad_length}")
    if size < 0:
        raise UserError(f"files.size: must be 0 (all rows) or positive, received {size}")
    if reweight and not (classes or label):
        raise UserError("files.reweight: reweighting classes needs labels (classes: or label:)")
    if streaming == "always" and size:
        raise UserError("files.size: takes a shuffled subset in memory; it cannot be used with streaming: always")
    if workers < 0 or chunk_rows < 0:
        raise UserError(f"files: workers and chunk_rows must not be negative, received {workers} and {chunk_rows}")
    budget = _budget(memory)
    sources = _expand(paths, classes)
    fmt = _format([path for path, _ in sources], format)
    labels = [label] if isinstance(label, str) else list(label or [])
    _check_expressions(derived, selection, labels, weight, sort_by, reweight, arrays)
    _check_array_names(arrays)
    _check_array_names(file_arrays, "file_arrays")
    if set(arrays) & set(file_arrays):
        raise UserError(f"files.file_arrays: {sorted(set(arrays) & set(file_arrays))} also named in "
                        "arrays; give each array once")
    spec = Inputs(list(features), dict(derived), selection, labels, weight, list(collection), pad_length, sort_by,
                  extra=[reweight] if reweight else [], carried=dict(arrays),
                  per_file={name: dict(table) for name, table in file_arrays.items()})
    skipped: list[dict[str, str]] = []
    sources = _readable(sources, fmt, tree, skip_bad_files, skipped)
    for name, table in spec.per_file.items():  # every file has its value before any is read
        for path, _ in sources:
            file_value(table, path, name)
    needed = spec.needed(column_names(sources[0][0], fmt, tree), sources[0][0])
    info = {"paths": [path for path, _ in sources], "format": fmt,
            # how rows become inputs, so that a run trained on this data set reads new files alike
            "reading": {"format": format, "tree": tree, "features": list(features), "derived": dict(derived),
                        "selection": selection, "label": label, "weight": weight, "arrays": dict(arrays),
                        "collection": list(collection),
                        "pad_length": pad_length, "sort_by": sort_by}}
    if file_arrays:  # not in "reading": new files read for prediction have no such value
        info["file_arrays"] = {name: dict(table) for name, table in file_arrays.items()}
    if labels:  # where a task's check of the targets points to
        more = f" and {len(sources) - 1} more files" if len(sources) > 1 else ""
        info["targets_from"] = f"{sources[0][0]}{more}: label {', '.join(repr(x) for x in labels)}"
    if streaming == "never" or (streaming == "auto" and size):
        stream = False
    else:
        probe, work_bytes = _probe(sources[0], fmt, tree, spec, needed)
        total = sum(count_rows(path, fmt, tree) for path, _ in sources)
        stream = streaming == "always" or total * _row_bytes(probe) * IN_MEMORY_COPIES > budget
    if stream:
        from quanta.data.files.streamed import streamed

        return streamed(sources, fmt, tree, spec, needed, probe, work_bytes, budget, workers, chunk_rows,
                        reweight_to if reweight else None, reweight_bins, list(classes),
                        warn_skipped if skip_bad_files else None, skipped, info)
    data = _in_memory(sources, fmt, tree, spec, needed, skip_bad_files, skipped)
    if reweight:
        rule = Reweighting.fit(data["extra0"], data["y"], data.get("weight"), reweight_bins, reweight_to,
                               list(classes) or None)
        factor = rule(data["extra0"], data["y"])
        data["weight"] = data["weight"] * factor if "weight" in data else factor
    data.pop("extra0", None)
    data.pop("row", None)
    total = len(data["x"])
    if size > total:
        raise UserError(f"files.size: {size} rows asked for but the files hold {total} after the selection")
    order = np.random.default_rng(seed).permutation(total)[: size or total]
    data = {key: value[order] for key, value in data.items()}
    info.update(rows=len(order), skipped_files=skipped)
    return Dataset(data, name="files", feature_names=spec.names,
                   classes=class_names(list(classes), labels, spec.label_is_bool, data.get("y")), info=info)


def _budget(memory: str) -> int:
    from quanta.data.stream.plan import parse_memory

    return parse_memory(memory)


def _readable(sources: list[tuple[str, int | None]], fmt: str, tree: str | None, skip: bool,
              skipped: list[dict[str, str]]) -> list[tuple[str, int | None]]:
    """The files whose metadata can be read; with ``skip``, the others are set aside with a warning."""
    kept = []
    for path, class_index in sources:
        try:
            column_names(path, fmt, tree)
            count_rows(path, fmt, tree)
        except UserError as error:
            if not skip:
                raise
            warn_skipped(path, str(error), skipped)
            continue
        kept.append((path, class_index))
    if not kept:
        raise UserError(f"files: none of the {len(sources)} files can be read ({skipped[0]['reason']})")
    return kept


def warn_skipped(path: str, reason: str, skipped: list[dict[str, str]]) -> None:
    """Record a skipped file and say so on stderr."""
    skipped.append({"path": path, "reason": reason})
    print(f"warning: skipping {reason}", file=sys.stderr)


def _probe(source: tuple[str, int | None], fmt: str, tree: str | None, spec: Inputs,
           needed: set[str] | None) -> tuple[dict[str, np.ndarray], float]:
    """The arrays of the first rows of the first file, and the peak bytes per row of reading and making them.

    The peak is traced (``tracemalloc``) unless the caller traces already;
    then it is estimated from the columns as read.
    """
    import tracemalloc

    path, class_index = source
    tracing = not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    try:
        columns = read(path, fmt, tree, needed, 0, PROBE_ROWS)
        rows = max(len(next(iter(columns.values()))), 1)
        arrays = spec.arrays(columns, path, class_index, 0, allow_empty=True)
        peak = tracemalloc.get_traced_memory()[1] if tracing else 0
    finally:
        if tracing:
            tracemalloc.stop()
    raw = sum(getattr(value, "nbytes", 0) for value in columns.values())
    return arrays, max(peak, raw + 2 * _row_bytes(arrays) * rows) / rows


def _row_bytes(arrays: dict[str, np.ndarray]) -> float:
    return float(sum(value.dtype.itemsize * int(np.prod(value.shape[1:])) for value in arrays.values()))


def _in_memory(sources: list[tuple[str, int | None]], fmt: str, tree: str | None, spec: Inputs,
               needed: set[str] | None, skip: bool, skipped: list[dict[str, str]]) -> dict[str, np.ndarray]:
    parts: list[dict[str, np.ndarray]] = []
    raw_rows = 0
    for path, class_index in sources:
        try:
            columns = read(path, fmt, tree, needed)
            raw_rows += len(next(iter(columns.values())))
            parts.append(spec.arrays(columns, path, class_index, 0, allow_empty=True))
        except UserError as error:
            if not skip:
                raise
            warn_skipped(path, str(error), skipped)
    if not parts:
        raise UserError(f"files: every one of the {len(sources)} files failed ({skipped[0]['reason']})")
    data = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    if len(data["x"]) == 0:
        where = sources[0][0] + (f" (and {len(sources) - 1} more files)" if len(sources) > 1 else "")
        raise UserError(f"{where}: selection '{spec.selection}' keeps none of its {raw_rows} rows")
    return data


def _expand(paths: list[str], classes: dict[str, str]) -> list[tuple[str, int | None]]:
    """(file, class index or None) for every file, globs expanded in sorted order."""
    patterns: list[tuple[str, int | None]] = (
        [(pattern, index) for index, pattern in enumerate(classes.values())] if classes
        else [(pattern, None) for pattern in paths])
    if not patterns:
        raise UserError("files: no files given; set paths: [file or glob, ...] or classes: {name: glob}")
    found: list[tuple[str, int | None]] = []
    for pattern, index in patterns:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                raise UserError(f"{pattern}: the glob matches no file")
        elif not Path(pattern).is_file():
            raise UserError(f"{pattern}: no such file")
        else:
            matches = [pattern]
        found.extend((match, index) for match in matches)
    return found


def _format(paths: list[str], format: str) -> str:
    if format != "auto":
        return format
    formats = {path: format_of(path) for path in paths}
    first = paths[0]
    for path, fmt in formats.items():
        if fmt != formats[first]:
            raise UserError(f"{path}: format {fmt} differs from {formats[first]} of {first}; "
                            "all files must share one format")
    return formats[first]


def class_names(classes: list[str], labels: list[str], label_is_bool: bool,
                y: np.ndarray | None) -> list[str] | None:
    """Class names: the ``classes`` keys, ``not (label)``/``label`` for a boolean label, else indices.

    None for real-valued or several targets (a regression) and when nothing is known yet.
    """
    if classes:
        return list(classes)
    if len(labels) != 1:
        return None
    if label_is_bool:
        return [f"not ({labels[0]})", labels[0]]
    if y is None or y.dtype.kind not in "iu":
        return None
    return [str(i) for i in range(int(y.max()) + 1 if len(y) else 0)]


#: names the data set's own arrays use, which ``arrays:`` may not take
RESERVED_ARRAYS = ("x", "mask", "y", "weight", "row", "extra0")


def _check_array_names(arrays: dict[str, Any], field: str = "arrays") -> None:
    for name in arrays:
        if name in RESERVED_ARRAYS or not name.isidentifier():
            raise UserError(f"files.{field}: '{name}' cannot name an array; use an identifier other than "
                            f"{', '.join(RESERVED_ARRAYS)}")


def _check_expressions(derived: dict[str, str], selection: str | None, labels: list[str], weight: str | None,
                       sort_by: str | None, reweight: str | None, arrays: dict[str, str]) -> None:
    """Every expression read before any file is, so that a typo names its field."""
    from quanta.data.files.expressions import parse

    fields = [*((f"data.derived.{name}", e) for name, e in derived.items()), ("data.selection", selection),
              *(("data.label", e) for e in labels), ("data.weight", weight), ("data.sort_by", sort_by),
              ("data.reweight", reweight), *((f"data.arrays.{name}", e) for name, e in arrays.items())]
    for field, expression in fields:
        if expression:
            parse(expression, field)


__all__ = ["files", "FORMATS", "select_rows", "feature_names", "inputs", "class_names", "Inputs"]
