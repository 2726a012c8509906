"""Jagged collections (particles per jet, hits per event) to padded arrays plus a mask.

A collection is several per-element branches of equal multiplicity per row
(``part_pt``, ``part_eta``, ...), given as awkward arrays (ROOT, Parquet) or as
NumPy object arrays holding one array per row. They are ordered within each
row by a key, descending (leading particles first), then truncated or padded
with zeros to an explicit length ``P``.

Shapes:
    - branches: ``C`` jagged arrays of ``N`` rows, row ``i`` with ``n_i`` elements.
    - returns ``x`` float32 ``[N, P, C]`` and ``mask`` bool ``[N, P]``
      (True where an element exists; ``mask[i].sum() == min(n_i, P)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from quanta.errors import UserError


def as_jagged(values: Any, where: str, name: str) -> Any:
    """An awkward array of lists from an awkward array or a NumPy array (object or 2-D)."""
    import awkward as ak

    if isinstance(values, ak.Array):
        if values.ndim != 2:
            raise UserError(f"{where}: column '{name}' has {values.ndim} dimensions; a collection "
                            "branch needs one list of numbers per row")
        return values
    values = np.asarray(values)
    if values.dtype == object:
        counts = np.fromiter((len(row) for row in values), dtype=np.int64, count=len(values))
        flat = np.concatenate([np.asarray(row, dtype=np.float64) for row in values]) if len(values) else np.zeros(0)
        return ak.unflatten(flat, counts)
    if values.ndim == 2:  # regular: every row has the same number of elements
        return ak.Array(values)
    raise UserError(f"{where}: column '{name}' is not jagged (shape {values.shape}); a collection "
                    "branch needs one list of numbers per row")


def pad_collection(branches: Mapping[str, Any], length: int, sort_by: Any | None = None,
                   where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Order, truncate and pad the branches of one collection; returns ``(x, mask)``.

    Args:
        branches: name -> jagged values, all with the same number of elements per row.
        length: the padding length ``P`` (> 0); rows with more elements are truncated.
        sort_by: jagged key with the same multiplicity; rows are ordered by it, descending.
        where: the file, for error messages.
    """
    import awkward as ak

    if length <= 0:
        raise UserError(f"{where}: pad_length must be a positive integer for a collection, received {length}")
    jagged = {name: as_jagged(values, where, name) for name, values in branches.items()}
    first = next(iter(jagged))
    counts = ak.to_numpy(ak.num(jagged[first], axis=1))
    for name, values in jagged.items():
        if not np.array_equal(ak.to_numpy(ak.num(values, axis=1)), counts):
            raise UserError(f"{where}: collection branch '{name}' has a different number of elements "
                            f"per row than '{first}'; a collection's branches must match")
    if sort_by is not None:
        key = as_jagged(sort_by, where, "sort_by")
        if not np.array_equal(ak.to_numpy(ak.num(key, axis=1)), counts):
            raise UserError(f"{where}: sort_by key has a different number of elements per row than "
                            f"'{first}'")
        order = ak.argsort(key, axis=1, ascending=False, stable=True)
        jagged = {name: values[order] for name, values in jagged.items()}
    columns = []
    for values in jagged.values():
        padded = ak.pad_none(values, length, axis=1, clip=True)  # [N, P] with None beyond n_i
        columns.append(ak.to_numpy(ak.fill_none(padded, 0.0)).astype(np.float32))
    x = np.stack(columns, axis=-1)  # [N, P, C]
    mask = np.arange(length)[None, :] < np.minimum(counts, length)[:, None]  # [N, P]
    return x, mask
