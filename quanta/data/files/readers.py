"""Readers: one function per file format, each returning the file's columns.

A reader maps a path to ``{column: array}``: NumPy arrays for flat columns
(``[N]`` or ``[N, k]``) and awkward arrays for jagged ones (particles per
event, from ROOT or Parquet list columns). Any failure to read - a missing,
truncated or foreign file - becomes a one-line :class:`UserError` naming the
file and the format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError

Columns = dict[str, Any]

SUFFIXES = {
    ".npy": "npy", ".npz": "npz", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".root": "root",
}


def format_of(path: str) -> str:
    """The format of ``path`` from its suffix (``auto``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"{path}: cannot tell the format from the suffix '{suffix}'; known suffixes: "
                        f"{', '.join(SUFFIXES)} (or set format:)")
    return SUFFIXES[suffix]


def _structured(array: np.ndarray, stem: str) -> Columns:
    if array.dtype.names:
        return {name: np.asarray(array[name]) for name in array.dtype.names}
    if array.ndim == 2:
        return {f"{stem}_{i}": array[:, i] for i in range(array.shape[1])}
    return {stem: array}


def read_npy(path: str, tree: str | None = None) -> Columns:
    """A ``.npy`` array: fields of a structured array, columns ``<stem>_<i>`` of a 2-D one."""
    return _structured(np.load(path, allow_pickle=False), Path(path).stem)


def read_npz(path: str, tree: str | None = None) -> Columns:
    """A ``.npz`` archive: one column per stored array."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def read_csv(path: str, tree: str | None = None) -> Columns:
    """A CSV file with a header line (pyarrow's multithreaded parser)."""
    import pyarrow.csv

    return _arrow_columns(pyarrow.csv.read_csv(path))


def read_parquet(path: str, tree: str | None = None) -> Columns:
    """A Parquet file; list columns become jagged awkward arrays."""
    import pyarrow.parquet

    return _arrow_columns(pyarrow.parquet.read_table(path))


def _arrow_columns(table: Any) -> Columns:
    import pyarrow as pa

    columns: Columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            import awkward as ak

            columns[name] = ak.from_arrow(column, highlevel=True)
        else:
            columns[name] = column.to_numpy()
    return columns


def read_hdf5(path: str, tree: str | None = None) -> Columns:
    """An HDF5 file: its datasets (fields of compound ones) as columns.

    A file whose root holds a single group (``/events/pt``, ``/events/eta``, ...)
    is read as that group's table; otherwise every dataset is a column named by
    its path (``jets/pt``).
    """
    import h5py

    with h5py.File(path, "r") as handle:
        root = handle
        while len(root) == 1 and isinstance(next(iter(root.values())), h5py.Group):
            root = next(iter(root.values()))
        columns: Columns = {}

        def visit(name: str, item: Any) -> None:
            if not isinstance(item, h5py.Dataset) or item.ndim == 0:
                return  # groups and scalars (metadata) are not columns
            values = item[()]
            for key, column in (_structured(values, name) if values.dtype.names else {name: values}).items():
                columns[f"{name}.{key}" if key in columns else key] = column

        root.visititems(visit)
        return columns


def read_root(path: str, tree: str | None = None) -> Columns:
    """A TTree of a ROOT file (uproot): flat branches as NumPy, jagged ones as awkward arrays.

    ``tree`` names the TTree; it may be omitted when the file holds exactly one. RNTuples
    (what ``uproot`` writes for ``file[name] = arrays``) are read the same way.
    """
    import awkward as ak
    import uproot

    with uproot.open(path) as handle:
        trees = [k.split(";")[0] for k, c in handle.classnames().items() if c in TREE_CLASSES]
        trees = list(dict.fromkeys(trees))
        if tree is None:
            if len(trees) != 1:
                raise UserError(f"{path}: holds {len(trees)} trees ({', '.join(trees) or 'none'}); "
                                "name one with tree:")
            tree = trees[0]
        if tree not in trees:
            from quanta.errors import closest

            guess = closest(tree, trees)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(f"{path}: no TTree '{tree}'{hint} trees: {', '.join(trees) or 'none'}")
        arrays = handle[tree].arrays(library="ak")
    columns: Columns = {}
    for name in arrays.fields:
        column = arrays[name]
        if column.ndim == 1:
            columns[name] = ak.to_numpy(column)
        else:
            try:  # fixed-size arrays per entry are regular: NumPy [N, k]
                columns[name] = ak.to_numpy(column)
            except ValueError:
                columns[name] = column
    return columns


TREE_CLASSES = ("TTree", "ROOT::RNTuple")

READERS: dict[str, Callable[[str, str | None], Columns]] = {
    "npy": read_npy, "npz": read_npz, "csv": read_csv, "parquet": read_parquet,
    "hdf5": read_hdf5, "root": read_root,
}


def read(path: str, format: str, tree: str | None = None) -> Columns:
    """Columns of ``path`` read as ``format``; every reading failure is a one-line UserError."""
    try:
        columns = READERS[format](path, tree)
    except UserError:
        raise
    except Exception as error:  # the I/O edge: any library failure means "unreadable"
        message = " ".join(str(error).split())[:200] or type(error).__name__
        raise UserError(f"{path}: cannot be read as {format} ({type(error).__name__}: {message})") from None
    check_lengths(path, columns)
    return columns


def check_lengths(path: str, columns: Columns) -> None:
    """All columns of one file must have the same number of rows."""
    if not columns:
        raise UserError(f"{path}: holds no columns")
    lengths = {name: len(value) for name, value in columns.items()}
    first = next(iter(lengths))
    for name, length in lengths.items():
        if length != lengths[first]:
            raise UserError(f"{path}: column '{name}' has {length} rows but '{first}' has "
                            f"{lengths[first]}; all columns of a file must have the same length")
