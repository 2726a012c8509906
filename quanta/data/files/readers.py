"""Readers: one class per file format, each returning a file's columns.

A reader maps a path to ``{column: array}``: NumPy arrays for flat columns
(``[N]`` or ``[N, k]``) and awkward arrays for jagged ones (particles per
event, from ROOT or Parquet list columns). It reads only the ``columns``
asked for and only the rows ``[start, stop)``, so that streaming can take one
large contiguous chunk of a file at a time; ``names`` and ``rows`` come from
the file's metadata without reading data. Any failure to read - a missing,
truncated or foreign file - becomes a one-line :class:`UserError` naming the
file and the format.

Partial reads: HDF5 and ``.npy`` (memory-mapped) slice rows directly, ROOT
reads entry ranges, Parquet reads whole row groups (a chunk is a run of row
groups). CSV and ``.npz`` have no index to seek by: a chunk is the whole file.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from quanta.errors import UserError, closest

Columns = dict[str, Any]

SUFFIXES = {
    ".npy": "npy", ".npz": "npz", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".root": "root",
}
TREE_CLASSES = ("TTree", "ROOT::RNTuple")


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


def _structured_names(dtype: np.dtype, shape: tuple[int, ...], stem: str) -> list[str]:
    if dtype.names:
        return list(dtype.names)
    if len(shape) == 2:
        return [f"{stem}_{i}" for i in range(shape[1])]
    return [stem]


def _keep(columns: Columns, wanted: Collection[str] | None) -> Columns:
    return columns if wanted is None else {k: v for k, v in columns.items() if k in wanted}


class Reader:
    """One file format: column names, row count, and reading a row range of some columns."""

    whole_file = False  # True: no seeking by row; a chunk is the whole file

    def names(self, path: str, tree: str | None) -> list[str]:
        raise NotImplementedError

    def rows(self, path: str, tree: str | None) -> int:
        raise NotImplementedError

    def read(self, path: str, tree: str | None, columns: Collection[str] | None,
             start: int, stop: int | None) -> Columns:
        raise NotImplementedError

    def bounds(self, path: str, tree: str | None, chunk_rows: int) -> list[tuple[int, int]]:
        """Row ranges ``[start, stop)`` of about ``chunk_rows`` rows covering the file."""
        total = self.rows(path, tree)
        if self.whole_file:
            return [(0, total)]
        return [(start, min(start + chunk_rows, total)) for start in range(0, total, chunk_rows)]


class NpyReader(Reader):
    """A ``.npy`` array: fields of a structured array, columns ``<stem>_<i>`` of a 2-D one (memory-mapped)."""

    def _array(self, path: str) -> np.ndarray:
        return np.load(path, mmap_mode="r", allow_pickle=False)

    def names(self, path, tree):
        array = self._array(path)
        return _structured_names(array.dtype, array.shape, Path(path).stem)

    def rows(self, path, tree):
        return len(self._array(path))

    def read(self, path, tree, columns, start, stop):
        array = np.asarray(self._array(path)[start:stop])
        return _keep(_structured(array, Path(path).stem), columns)


class NpzReader(Reader):
    """A ``.npz`` archive: one column per stored array (read whole: zip members cannot be sliced)."""

    whole_file = True

    def names(self, path, tree):
        with np.load(path, allow_pickle=False) as archive:
            return list(archive.files)

    def rows(self, path, tree):
        with np.load(path, allow_pickle=False) as archive:
            return len(archive[archive.files[0]]) if archive.files else 0

    def read(self, path, tree, columns, start, stop):
        with np.load(path, allow_pickle=False) as archive:
            keys = [k for k in archive.files if columns is None or k in columns]
            return {key: archive[key][start:stop] for key in keys}


class CsvReader(Reader):
    """A CSV file with a header line (pyarrow's multithreaded parser; read whole)."""

    whole_file = True

    def names(self, path, tree):
        with open(path, encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        return [name.strip().strip('"') for name in header.rstrip("\r\n").split(",")]

    def rows(self, path, tree):
        with open(path, "rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return max(lines - 1, 0)

    def read(self, path, tree, columns, start, stop):
        import pyarrow.csv

        options = pyarrow.csv.ConvertOptions(include_columns=list(columns)) if columns is not None else None
        table = pyarrow.csv.read_csv(path, convert_options=options)
        return {k: v[start:stop] for k, v in _arrow_columns(table).items()}


class ParquetReader(Reader):
    """A Parquet file; list columns become jagged awkward arrays. Chunks are runs of row groups."""

    def names(self, path, tree):
        import pyarrow.parquet

        return list(pyarrow.parquet.ParquetFile(path).schema_arrow.names)

    def rows(self, path, tree):
        import pyarrow.parquet

        return pyarrow.parquet.ParquetFile(path).metadata.num_rows

    def _group_rows(self, path: str) -> list[int]:
        import pyarrow.parquet

        meta = pyarrow.parquet.ParquetFile(path).metadata
        return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]

    def bounds(self, path, tree, chunk_rows):
        ranges, start, stop = [], 0, 0
        for rows in self._group_rows(path):
            stop += rows
            if stop - start >= chunk_rows:
                ranges.append((start, stop))
                start = stop
        if stop > start:
            ranges.append((start, stop))
        return ranges

    def read(self, path, tree, columns, start, stop):
        import pyarrow.parquet

        handle = pyarrow.parquet.ParquetFile(path)
        wanted = None if columns is None else [c for c in handle.schema_arrow.names if c in columns]
        groups, first, offset = [], None, 0
        stop = handle.metadata.num_rows if stop is None else stop
        for index, rows in enumerate(self._group_rows(path)):
            if offset < stop and offset + rows > start:
                groups.append(index)
                first = offset if first is None else first
            offset += rows
        table = handle.read_row_groups(groups, columns=wanted)
        table = table.slice(start - (first or 0), stop - start)
        return _arrow_columns(table)


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


class Hdf5Reader(Reader):
    """An HDF5 file: its datasets (fields of compound ones) as columns.

    A file whose root holds a single group (``/events/pt``, ``/events/eta``, ...)
    is read as that group's table; otherwise every dataset is a column named by
    its path (``jets/pt``).
    """

    def _datasets(self, handle: Any) -> list[tuple[str, Any]]:
        import h5py

        root = handle
        while len(root) == 1 and isinstance(next(iter(root.values())), h5py.Group):
            root = next(iter(root.values()))
        found: list[tuple[str, Any]] = []

        def visit(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset) and item.ndim > 0:  # groups and scalars are not columns
                found.append((name, item))

        root.visititems(visit)
        return found

    def _columns(self, handle: Any) -> list[tuple[str, str, Any, str | None]]:
        """(column, dataset path, dataset, field) for every column, named as read() names them."""
        out: list[tuple[str, str, Any, str | None]] = []
        seen: set[str] = set()
        for name, item in self._datasets(handle):
            for key in _structured_names(item.dtype, (0,), name) if item.dtype.names else [name]:
                column = f"{name}.{key}" if key in seen else key
                seen.add(column)
                out.append((column, name, item, key if item.dtype.names else None))
        return out

    def names(self, path, tree):
        import h5py

        with h5py.File(path, "r") as handle:
            return [column for column, *_ in self._columns(handle)]

    def rows(self, path, tree):
        import h5py

        with h5py.File(path, "r") as handle:
            datasets = self._datasets(handle)
            return len(datasets[0][1]) if datasets else 0

    def read(self, path, tree, columns, start, stop):
        import h5py

        with h5py.File(path, "r") as handle:
            out: Columns = {}
            for column, _, item, field in self._columns(handle):
                if columns is not None and column not in columns:
                    continue
                out[column] = item.fields(field)[start:stop] if field is not None else item[start:stop]
            return out


class RootReader(Reader):
    """A TTree of a ROOT file (uproot): flat branches as NumPy, jagged ones as awkward arrays.

    ``tree`` names the TTree; it may be omitted when the file holds exactly one. RNTuples
    (what ``uproot`` writes for ``file[name] = arrays``) are read the same way.
    """

    def _tree(self, handle: Any, path: str, tree: str | None) -> Any:
        trees = [k.split(";")[0] for k, c in handle.classnames().items() if c in TREE_CLASSES]
        trees = list(dict.fromkeys(trees))
        if tree is None:
            if len(trees) != 1:
                raise UserError(f"{path}: holds {len(trees)} trees ({', '.join(trees) or 'none'}); "
                                "name one with tree:")
            tree = trees[0]
        if tree not in trees:
            guess = closest(tree, trees)
            hint = f"; did you mean '{guess}'?" if guess else ""
            raise UserError(f"{path}: no TTree '{tree}'{hint} trees: {', '.join(trees) or 'none'}")
        return handle[tree]

    def names(self, path, tree):
        import uproot

        with uproot.open(path) as handle:
            return list(self._tree(handle, path, tree).keys())

    def rows(self, path, tree):
        import uproot

        with uproot.open(path) as handle:
            return int(self._tree(handle, path, tree).num_entries)

    def read(self, path, tree, columns, start, stop):
        import awkward as ak
        import uproot

        with uproot.open(path) as handle:
            source = self._tree(handle, path, tree)
            options: dict[str, Any] = {"entry_start": start, "entry_stop": stop}
            if columns is not None:
                options["filter_name"] = [c for c in source.keys() if c in columns]
            arrays = source.arrays(library="ak", **options)
        out: Columns = {}
        for name in arrays.fields:
            column = arrays[name]
            try:  # flat branches, and fixed-size arrays per entry (regular: NumPy [N, k])
                out[name] = ak.to_numpy(column)
            except ValueError:
                out[name] = column
        return out


READERS: dict[str, Reader] = {
    "npy": NpyReader(), "npz": NpzReader(), "csv": CsvReader(), "parquet": ParquetReader(),
    "hdf5": Hdf5Reader(), "root": RootReader(),
}


def _guarded(path: str, format: str, call: Any) -> Any:
    try:
        return call()
    except UserError:
        raise
    except Exception as error:  # the I/O edge: any library failure means "unreadable"
        message = " ".join(str(error).split())[:200] or type(error).__name__
        raise UserError(f"{path}: cannot be read as {format} ({type(error).__name__}: {message})") from None


def read(path: str, format: str, tree: str | None = None, columns: Collection[str] | None = None,
         start: int = 0, stop: int | None = None) -> Columns:
    """Columns of ``path`` read as ``format`` (only ``columns``, rows ``[start, stop)``).

    Every reading failure is a one-line UserError; so are columns of unequal length.
    """
    found = _guarded(path, format, lambda: READERS[format].read(path, tree, columns, start, stop))
    check_lengths(path, found)
    return found


def column_names(path: str, format: str, tree: str | None = None) -> list[str]:
    """The columns of ``path``, from its metadata."""
    return _guarded(path, format, lambda: READERS[format].names(path, tree))


def count_rows(path: str, format: str, tree: str | None = None) -> int:
    """The number of rows of ``path``, from its metadata (CSV: its lines)."""
    return _guarded(path, format, lambda: READERS[format].rows(path, tree))


def chunk_bounds(path: str, format: str, tree: str | None, chunk_rows: int) -> list[tuple[int, int]]:
    """Contiguous row ranges of about ``chunk_rows`` rows that cover ``path``."""
    return _guarded(path, format, lambda: READERS[format].bounds(path, tree, chunk_rows))


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
