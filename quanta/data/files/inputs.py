"""From a file's columns to a data set's arrays: the ``files`` source's declared inputs.

:class:`Inputs` holds what the experiment declares - derived columns, the
selection, features or a padded collection, label and weight - and turns the
columns of one file (or one chunk of a file) into ``x`` (``[n, F]``, or
``[n, P, C]`` with ``mask[n, P]``), ``y``, ``weight``, the named ``arrays``
(float32 ``[n]`` each, e.g. a measurement's uncertainty for a method that
uses it) and ``row`` (each kept row's index in its file, which the streaming
split hashes). Reading in memory
and streaming from disk share it, so both modes make the same arrays.
"""

from __future__ import annotations

import difflib
import fnmatch
import glob
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quanta.data.files.expressions import evaluate, names
from quanta.data.files.jagged import pad_collection
from quanta.errors import UserError, closest, shown

#: a message lists a file's columns up to this many, else this many closest by name and a count
COLUMNS_SHOWN = 20


@dataclass
class Inputs:
    """The declared inputs of the ``files`` source (see :func:`quanta.data.files.files`)."""

    features: list[str] = field(default_factory=list)
    derived: dict[str, str] = field(default_factory=dict)
    selection: str | None = None
    label: list[str] = field(default_factory=list)  # one expression per target (one: y[N]; several: y[N, T])
    weight: str | None = None
    collection: list[str] = field(default_factory=list)
    pad_length: int = 0
    sort_by: str | None = None
    extra: list[str] = field(default_factory=list)  # expressions kept per row (reweighting variable)
    carried: dict[str, str] = field(default_factory=dict)  # named per-row arrays (``arrays:``) kept with the data
    # named arrays constant per file (``file_arrays:``): {name: {file or glob: value}}, e.g. a mixture index
    per_file: dict[str, dict[str, float]] = field(default_factory=dict)
    names: list[str] | None = None  # the resolved feature names, from the first file read
    label_is_bool: bool = False

    def needed(self, available: list[str], path: str) -> set[str] | None:
        """The stored columns to read (None: all of them, when features are implicit).

        A name that is neither stored in ``path`` nor derived is a one-line error.
        """
        if not self.features and not self.collection:
            return None
        wanted: set[str] = set(self.collection)
        for feature in self.features:
            if glob.has_magic(feature):
                matches = {name for name in available if fnmatch.fnmatchcase(name, feature)}
                derived = [name for name in self.derived if name not in available]
                if not matches and not any(fnmatch.fnmatchcase(name, feature) for name in derived):
                    no_match(feature, [*available, *derived], path)
                wanted.update(matches)
            else:
                base = feature.rpartition("_")[0]
                wanted.add(feature if feature in available or base not in available else base)
        for expression in (*self.derived.values(), self.selection, *self.label, self.weight, self.sort_by,
                           *self.extra, *self.carried.values()):
            if expression:
                wanted.update(names(expression))
        wanted -= set(self.derived)
        for name in sorted(wanted):
            if name not in available:
                column(dict.fromkeys(available), name, path)
        return wanted

    def arrays(self, columns: dict[str, Any], path: str, class_index: int | None = None,
               first_row: int = 0, allow_empty: bool = False) -> dict[str, np.ndarray]:
        """The arrays of the rows of ``columns`` (rows ``first_row...`` of ``path``) that pass the selection."""
        rows = len(next(iter(columns.values()))) if columns else 0
        columns, keep = _derive_and_select(columns, self.derived, self.selection, path, allow_empty)
        row = np.arange(first_row, first_row + rows, dtype=np.int64)
        row = row if keep is None else row[keep]
        if self.names is None:
            self.names = list(self.collection) or feature_names(self.features, columns, self.label,
                                                                self.weight, path, [*self.carried.values()])
        out = inputs(columns, self.names, self.collection, self.pad_length, self.sort_by, path)
        if class_index is not None:
            out["y"] = np.full(len(row), class_index, dtype=np.int64)
        elif self.label:
            out["y"], is_bool = targets(self.label, columns, path)
            self.label_is_bool = self.label_is_bool or is_bool
        if self.weight:
            out["weight"] = flat(evaluate(self.weight, columns, path), f"weight '{self.weight}'", path)
        for index, expression in enumerate(self.extra):
            out[f"extra{index}"] = flat(evaluate(expression, columns, path), f"'{expression}'", path)
        for name, expression in self.carried.items():
            out[name] = flat(evaluate(expression, columns, path), f"arrays.{name} '{expression}'", path)
        for name, table in self.per_file.items():
            out[name] = np.full(len(row), file_value(table, path, name), dtype=np.float32)
        out["row"] = row
        return out


def file_value(table: dict[str, float], path: str, name: str) -> float:
    """The value of array ``name`` for the rows of file ``path``: the one entry of ``table`` (a file
    or a glob) that matches it; a one-line error when none or several do."""
    matches = [key for key in table if key == path or fnmatch.fnmatchcase(path, key)]
    if len(matches) != 1:
        what = "no entry" if not matches else f"{len(matches)} entries ({', '.join(matches)})"
        raise UserError(f"files.file_arrays.{name}: {what} of {list(table)} matches file {path}; give "
                        "each file exactly one value")
    return float(table[matches[0]])


def select_rows(columns: dict[str, Any], derived: dict[str, str], selection: str | None,
                path: str, allow_empty: bool = False) -> dict[str, Any]:
    """``columns`` of one file with the ``derived`` columns added and the rows failing ``selection`` dropped."""
    return _derive_and_select(columns, derived, selection, path, allow_empty)[0]


def _derive_and_select(columns: dict[str, Any], derived: dict[str, str], selection: str | None, path: str,
                       allow_empty: bool) -> tuple[dict[str, Any], np.ndarray | None]:
    """The columns with derived ones added and failing rows dropped, and the kept-row mask (None: all kept)."""
    columns = dict(columns)
    for name, expression in derived.items():
        columns[name] = evaluate(expression, columns, path)
    if not selection:
        return columns, None
    keep = _keep(columns, selection, path, allow_empty)
    return {name: value[keep] for name, value in columns.items()}, keep


def inputs(columns: dict[str, Any], names: list[str], collection: list[str], pad_length: int,
           sort_by: str | None, path: str) -> dict[str, np.ndarray]:
    """The inputs of one file's (selected) rows: ``x[N, F]``, or ``x[N, P, C]`` and ``mask[N, P]``."""
    arrays: dict[str, np.ndarray] = {}
    if collection:
        branches = {name: column(columns, name, path) for name in collection}
        key = evaluate(sort_by, columns, path) if sort_by else None
        arrays["x"], arrays["mask"] = pad_collection(branches, pad_length, key, path)
        check_finite(arrays["x"], f"collection {collection}", path)
    else:
        arrays["x"] = _features(columns, names, path)
    return arrays


def column(columns: dict[str, Any], name: str, path: str) -> Any:
    if name not in columns:
        guess = closest(name, columns)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"{path}: unknown column '{name}'{hint} columns: {', '.join(columns)}")
    return columns[name]


def _is_numeric_flat(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.ndim in (1, 2)


def _refuse_numbers_with_text(name: str, value: Any, path: str) -> None:
    """A text column whose values are mostly numbers is a column of numbers with a typo in it:
    leaving it out of the features silently would train on less than the user thinks."""
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "OUS" or not len(value):
        return
    bad = []
    for row, item in enumerate(value[:10_000]):
        try:
            float(item)
        except (TypeError, ValueError):
            bad.append((row, item))
    if len(bad) <= len(value[:10_000]) // 2:
        row, item = bad[0]
        raise UserError(f"{path}: column '{name}' holds numbers and text (row {row + 1}: {shown(item)}); fix "
                        "the value, or name the features to use (data.features)")


def feature_names(features: list[str], columns: dict[str, Any], label: str | list[str] | None,
                  weight: str | None, path: str, kept: list[str] = ()) -> list[str]:
    """Feature names from names and ``*`` patterns (matched against the first file's columns).

    Without ``features``, every flat numeric column except the label (targets), the weight
    and the columns ``kept`` as named arrays (``arrays:``, e.g. a measurement's uncertainty).
    """
    if not features:
        excluded = {weight, *kept, *([label] if isinstance(label, str) else (label or []))}
        chosen = [n for n, v in columns.items() if _is_numeric_flat(v) and n not in excluded]
        for name, value in columns.items():
            if name not in excluded:
                _refuse_numbers_with_text(name, value, path)
    else:
        chosen = []
        for feature in features:
            if glob.has_magic(feature):
                matches = [name for name in columns if fnmatch.fnmatchcase(name, feature)]
                if not matches:
                    no_match(feature, list(columns), path)
                chosen.extend(matches)
            else:
                column(columns, feature, path)
                chosen.append(feature)
    found: list[str] = []
    for name in dict.fromkeys(chosen):
        value = columns[name]
        width = value.shape[1] if isinstance(value, np.ndarray) and value.ndim == 2 else 0
        found.extend([f"{name}_{i}" for i in range(width)] if width else [name])
    if not found:
        raise UserError(f"{path}: no numeric column to use as features; columns: {', '.join(columns)}")
    return found


def no_match(pattern: str, columns: list[str], path: str) -> None:
    """The one-line error of a pattern matching none of ``columns`` (stored and derived)."""
    raise UserError(f"{path}: feature pattern '{pattern}' matches no column; "
                    f"{column_listing(columns, pattern.translate(str.maketrans('', '', '*?[]!')))}")


def column_listing(columns: list[str], near: str) -> str:
    """``columns: a, b, c``; past :data:`COLUMNS_SHOWN`, the closest to ``near`` and a count."""
    if len(columns) <= COLUMNS_SHOWN:
        return f"columns: {', '.join(columns)}"
    ranked = sorted(columns, key=lambda name: -difflib.SequenceMatcher(None, near, name).ratio())
    shown = ranked[:COLUMNS_SHOWN]
    return (f"the {len(shown)} closest of its {len(columns)} columns: {', '.join(shown)} "
            f"(and {len(columns) - len(shown)} more)")


def _features(columns: dict[str, Any], names: list[str], path: str) -> np.ndarray:
    """``x[N, F]`` from the named columns (``name_i`` picks column i of a 2-D column)."""
    blocks = []
    for name in names:
        if name in columns:
            value = columns[name]
        else:  # the i-th column of a 2-D column, as named by feature_names
            base, _, index = name.rpartition("_")
            value = column(columns, base if base in columns else name, path)
            value = value[:, int(index)] if isinstance(value, np.ndarray) and value.ndim == 2 else value
        blocks.append(flat(value, f"column '{name}'", path))
    rows = len(next(iter(columns.values()))) if columns else 0
    return np.stack(blocks, axis=1) if blocks else np.zeros((rows, 0), np.float32)  # [N, F]


def flat(value: Any, what: str, path: str) -> np.ndarray:
    """A numeric 1-D float32 column, finite, or a one-line error naming file and column."""
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        shape = getattr(value, "shape", None) or type(value).__name__
        kind = "jagged (use collection: and pad_length:)" if type(value).__module__.startswith("awkward") \
            else f"not one number per row (shape {shape})"
        raise UserError(f"{path}: {what} is {kind}")
    if value.dtype.kind not in "biuf":
        raise UserError(f"{path}: {what} is not numeric (dtype {value.dtype}); features must be numbers")
    value = value.astype(np.float32)
    check_finite(value, what, path)
    return value


def check_finite(value: np.ndarray, what: str, path: str) -> None:
    nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
    if nan or inf:
        raise UserError(f"{path}: {what} has {nan} NaN and {inf} Inf values in {len(value)} rows "
                        "(after the selection); clean them or select them away")


def _keep(columns: dict[str, Any], selection: str, path: str, allow_empty: bool) -> np.ndarray:
    keep = evaluate(selection, columns, path)
    if not isinstance(keep, np.ndarray) or keep.dtype != bool or keep.ndim != 1:
        raise UserError(f"{path}: selection '{selection}' must give one True/False per row, "
                        f"received {getattr(keep, 'dtype', type(keep).__name__)}")
    if not allow_empty and not keep.any():
        raise UserError(f"{path}: selection '{selection}' keeps none of its {len(keep)} rows")
    return keep


def targets(labels: list[str], columns: dict[str, Any], path: str) -> tuple[np.ndarray, bool]:
    """``y`` of the rows and whether it is boolean: one label gives ``y[N]``, several ``y[N, T]`` (float32).

    Booleans and integers become int64 (class indices for a classification;
    a regression takes them as numbers); floating-point values stay float32
    for a regression. Which values a task accepts is the task's check.
    """
    values = [_target(evaluate(label, columns, path), label, path) for label in labels]
    if len(values) == 1:
        return values[0]
    return np.stack([value.astype(np.float32) for value, _ in values], axis=1), False


def _target(value: Any, label: str, path: str) -> tuple[np.ndarray, bool]:
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        raise UserError(f"{path}: label '{label}' must give one value per row")
    if value.dtype == bool:
        return value.astype(np.int64), True
    if value.dtype.kind in "iu":
        return value.astype(np.int64), False
    if value.dtype.kind != "f":
        raise UserError(f"{path}: label '{label}' must give booleans, integers (class indices) or numbers "
                        f"(regression targets), received dtype {value.dtype}")
    value = value.astype(np.float32)
    check_finite(value, f"label '{label}'", path)
    return value, False
