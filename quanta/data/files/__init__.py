"""The ``files`` source: a physicist's own NumPy, CSV, Parquet, HDF5 or ROOT files.

Columns are read per file (:mod:`.readers`), derived variables and a selection
are evaluated with a safe expression evaluator (:mod:`.expressions`), and
jagged collections are padded to an explicit length with a mask
(:mod:`.jagged`). Every check on the data names the file and the column.
"""

from __future__ import annotations

import fnmatch
import glob
from pathlib import Path
from typing import Any, Literal

import numpy as np

from quanta.data.dataset import Dataset
from quanta.data.files.expressions import evaluate
from quanta.data.files.jagged import pad_collection
from quanta.data.files.readers import format_of, read
from quanta.errors import UserError, closest

FORMATS = ("npy", "npz", "csv", "parquet", "hdf5", "root")


# The list and dict defaults are read from the signature (listing, YAML round trip) and never mutated.
def files(
    paths: list[str] = [],  # noqa: B006
    classes: dict[str, str] = {},  # noqa: B006
    format: Literal["auto", "npy", "npz", "csv", "parquet", "hdf5", "root"] = "auto",
    tree: str | None = None,
    features: list[str] = [],  # noqa: B006
    derived: dict[str, str] = {},  # noqa: B006
    selection: str | None = None,
    label: str | None = None,
    weight: str | None = None,
    collection: list[str] = [],  # noqa: B006
    pad_length: int = 0,
    sort_by: str | None = None,
    size: int = 0,
    seed: int = 1,
) -> Dataset:
    """The physicist's own files: NumPy, CSV, Parquet, HDF5, ROOT, with selections, derived variables and padding

    Reads the listed files, adds derived variables, applies the selection and
    builds inputs, targets and weights, the way one works with ntuples.

    Per row (``features``): ``x`` float32 ``[N, F]``, one column per feature.
    Per element (``collection``): ``x`` float32 ``[N, P, C]`` and ``mask`` bool
    ``[N, P]``: ``C`` jagged branches, ordered by ``sort_by`` (descending) and
    padded or truncated to ``P = pad_length``.
    Targets: ``y`` int64 ``[N]`` - the index of the class whose files a row
    comes from (``classes``), or the value of ``label``. ``weight`` float32 ``[N]``.

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
        selection: a cut (``(pt > 500) & (abs(eta) < 2)``); rows failing it are dropped.
        label: a column or expression giving booleans or non-negative integers.
        weight: a column or expression giving per-row weights.
        collection: jagged branches forming per-element features (not with ``features``).
        pad_length: the padding length ``P``; required (> 0) with ``collection``.
        sort_by: a jagged column or expression ordering a collection's elements.
        size: 0 takes all rows; otherwise the first ``size`` rows of the shuffled order.
        seed: seeds the row order (rows of all files are shuffled together).

    Expressions allow column names, numbers, ``+ - * / **``, comparisons,
    ``& | ~`` and ``log log1p exp sqrt abs hypot arctan2 sin cos tanh minimum
    maximum where clip``; they are parsed, never passed to ``eval``.
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
    sources = _expand(paths, classes)
    fmt = _format([path for path, _ in sources], format)

    parts: list[dict[str, np.ndarray]] = []
    names: list[str] | None = None
    label_is_bool = False
    for path, class_index in sources:
        columns = select_rows(read(path, fmt, tree), derived, selection, path)
        if names is None:
            names = list(collection) if collection else feature_names(features, columns, label, weight, path)
        arrays = inputs(columns, names, collection, pad_length, sort_by, path)
        rows = len(arrays["x"])
        if class_index is not None:
            arrays["y"] = np.full(rows, class_index, dtype=np.int64)
        elif label:
            arrays["y"], label_is_bool = _label(evaluate(label, columns, path), label, path)
        if weight:
            arrays["weight"] = _flat(evaluate(weight, columns, path), f"weight '{weight}'", path)
        parts.append(arrays)

    data = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    total = len(data["x"])
    if size > total:
        raise UserError(f"files.size: {size} rows asked for but the files hold {total} after the selection")
    order = np.random.default_rng(seed).permutation(total)[: size or total]
    data = {key: value[order] for key, value in data.items()}
    return Dataset(data, name="files", feature_names=names, classes=_class_names(classes, label, data, label_is_bool),
                   info={"paths": [path for path, _ in sources], "format": fmt, "rows": len(order)})


def select_rows(columns: dict[str, Any], derived: dict[str, str], selection: str | None,
                path: str) -> dict[str, Any]:
    """``columns`` of one file with the ``derived`` columns added and the rows failing ``selection`` dropped."""
    for name, expression in derived.items():
        columns[name] = evaluate(expression, columns, path)
    return _select(columns, selection, path) if selection else columns


def inputs(columns: dict[str, Any], names: list[str], collection: list[str], pad_length: int,
           sort_by: str | None, path: str) -> dict[str, np.ndarray]:
    """The inputs of one file's (selected) rows: ``x[N, F]``, or ``x[N, P, C]`` and ``mask[N, P]``."""
    arrays: dict[str, np.ndarray] = {}
    if collection:
        branches = {name: _column(columns, name, path) for name in collection}
        key = evaluate(sort_by, columns, path) if sort_by else None
        arrays["x"], arrays["mask"] = pad_collection(branches, pad_length, key, path)
        _check_finite(arrays["x"], f"collection {collection}", path)
    else:
        arrays["x"] = _features(columns, names, path)
    return arrays


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


def _column(columns: dict[str, Any], name: str, path: str) -> Any:
    if name not in columns:
        guess = closest(name, columns)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"{path}: unknown column '{name}'{hint} columns: {', '.join(columns)}")
    return columns[name]


def _is_numeric_flat(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.ndim in (1, 2)


def feature_names(features: list[str], columns: dict[str, Any], label: str | None,
                      weight: str | None, path: str) -> list[str]:
    """Feature names from names and ``*`` patterns (matched against the first file's columns)."""
    if not features:
        chosen = [n for n, v in columns.items() if _is_numeric_flat(v) and n not in (label, weight)]
    else:
        chosen = []
        for feature in features:
            if glob.has_magic(feature):
                matches = [name for name in columns if fnmatch.fnmatchcase(name, feature)]
                if not matches:
                    raise UserError(f"{path}: feature pattern '{feature}' matches no column; "
                                    f"columns: {', '.join(columns)}")
                chosen.extend(matches)
            else:
                _column(columns, feature, path)
                chosen.append(feature)
    names: list[str] = []
    for name in dict.fromkeys(chosen):
        value = columns[name]
        width = value.shape[1] if isinstance(value, np.ndarray) and value.ndim == 2 else 0
        names.extend([f"{name}_{i}" for i in range(width)] if width else [name])
    if not names:
        raise UserError(f"{path}: no numeric column to use as features; columns: {', '.join(columns)}")
    return names


def _features(columns: dict[str, Any], names: list[str], path: str) -> np.ndarray:
    """``x[N, F]`` from the named columns (``name_i`` picks column i of a 2-D column)."""
    blocks = []
    for name in names:
        if name in columns:
            value = columns[name]
        else:  # the i-th column of a 2-D column, as named by feature_names
            base, _, index = name.rpartition("_")
            value = _column(columns, base if base in columns else name, path)
            value = value[:, int(index)] if isinstance(value, np.ndarray) and value.ndim == 2 else value
        blocks.append(_flat(value, f"column '{name}'", path))
    return np.stack(blocks, axis=1)  # [N, F]


def _flat(value: Any, what: str, path: str) -> np.ndarray:
    """A numeric 1-D float32 column, finite, or a one-line error naming file and column."""
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        shape = getattr(value, "shape", None) or type(value).__name__
        kind = "jagged (use collection: and pad_length:)" if type(value).__module__.startswith("awkward") \
            else f"not one number per row (shape {shape})"
        raise UserError(f"{path}: {what} is {kind}")
    if value.dtype.kind not in "biuf":
        raise UserError(f"{path}: {what} is not numeric (dtype {value.dtype}); features must be numbers")
    value = value.astype(np.float32)
    _check_finite(value, what, path)
    return value


def _check_finite(value: np.ndarray, what: str, path: str) -> None:
    nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
    if nan or inf:
        raise UserError(f"{path}: {what} has {nan} NaN and {inf} Inf values in {len(value)} rows "
                        "(after the selection); clean them or select them away")


def _select(columns: dict[str, Any], selection: str, path: str) -> dict[str, Any]:
    keep = evaluate(selection, columns, path)
    if not isinstance(keep, np.ndarray) or keep.dtype != bool or keep.ndim != 1:
        raise UserError(f"{path}: selection '{selection}' must give one True/False per row, "
                        f"received {getattr(keep, 'dtype', type(keep).__name__)}")
    if not keep.any():
        raise UserError(f"{path}: selection '{selection}' keeps none of its {len(keep)} rows")
    return {name: value[keep] for name, value in columns.items()}


def _label(value: Any, label: str, path: str) -> tuple[np.ndarray, bool]:
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        raise UserError(f"{path}: label '{label}' must give one value per row")
    if value.dtype == bool:
        return value.astype(np.int64), True
    if value.dtype.kind not in "biuf" or (value.dtype.kind == "f" and not np.all(np.mod(value, 1) == 0)):
        raise UserError(f"{path}: label '{label}' must give booleans or integers (class indices), "
                        f"received dtype {value.dtype}")
    if value.size and value.min() < 0:
        raise UserError(f"{path}: label '{label}' has negative values; class indices start at 0")
    return value.astype(np.int64), False


def _class_names(classes: dict[str, str], label: str | None, data: dict[str, np.ndarray],
                 label_is_bool: bool) -> list[str] | None:
    if classes:
        return list(classes)
    if not label:
        return None
    if label_is_bool:
        return [f"not ({label})", label]
    return [str(i) for i in range(int(data["y"].max()) + 1 if len(data["y"]) else 0)]


__all__ = ["files", "FORMATS", "select_rows", "feature_names", "inputs"]
