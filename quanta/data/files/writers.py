"""Writing named arrays to one file that the ``files`` source reads back.

One function, :func:`write_columns`, used by ``quanta sample`` (generated
samples) and ``quanta datasets generate`` (a simulator's shards): ``{name:
array}`` becomes datasets at the root of an HDF5 file, members of an ``.npz``,
one ``.npy`` array (``x`` alone), columns of a Parquet table (one number per
row each), or branches of a TTree (:data:`TREE`) in a ROOT file. The readers
of :mod:`quanta.data.files.readers` give the same names back as columns.

The file is written to a temporary name beside ``target`` and renamed onto
it, so a killed writer never leaves a partial file under the real name; an
unwritable place or a name the library refuses is one :class:`UserError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from quanta.errors import UserError, first_line

TREE = "samples"  # the TTree of ROOT outputs
FORMATS = ("hdf5", "npz", "npy", "parquet", "root")


def write_columns(target: Path, format: str, columns: dict[str, np.ndarray], where: str) -> None:
    """``columns`` written in ``format`` to a temporary file next to ``target``, then renamed onto it.

    Args:
        target: the file to write (replaced if it exists).
        format: one of :data:`FORMATS`; ``npy`` writes ``columns["x"]`` alone.
        columns: the named arrays, all with the same number of rows.
        where: what the one-line errors name (``--out samples.h5``).
    """
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp{target.suffix}")
    try:
        if format == "npy":
            with open(partial, "wb") as handle:
                np.save(handle, columns["x"])
        elif format == "npz":
            with open(partial, "wb") as handle:
                np.savez(handle, **columns)
        elif format == "hdf5":
            import h5py

            with h5py.File(partial, "w") as handle:
                for name, values in columns.items():
                    handle.create_dataset(name, data=values)
        elif format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({name: pa.array(values) for name, values in columns.items()}), partial)
        else:
            import uproot

            with uproot.recreate(partial) as handle:
                handle.mktree(TREE, {name: (values.dtype, values.shape[1:]) for name, values in columns.items()})
                handle[TREE].extend(columns)
        os.replace(partial, target)
    except OSError as error:
        raise UserError(f"{where}: cannot be written ({error.strerror or type(error).__name__})") from None
    except (ValueError, TypeError) as error:  # h5py, pyarrow, uproot: a column name they refuse
        raise UserError(f"{where}: cannot be written ({first_line(error)})") from None
    finally:
        if partial.exists():
            partial.unlink()


__all__ = ["FORMATS", "TREE", "write_columns"]
