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
        if "?" in str(values.type.content):  # nullable elements (Parquet lists): missing values become 0
            values = ak.fill_none(values, 0, axis=-1)
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
    rows = len(counts)
    index = np.repeat(np.arange(rows), counts)  # the row of every element
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if rows else np.zeros(0, np.int64)
    position = np.arange(len(index)) - np.repeat(starts, counts)  # the k-th element of its row
    widest = int(counts.max()) if rows else 0
    x = np.zeros((rows, length, len(jagged)), dtype=np.float32)  # [N, P, C]
    if sort_by is None or widest <= 1:
        keep = position < length
        for channel, values in enumerate(jagged.values()):
            x[index[keep], position[keep], channel] = _flat(values)[keep]
    else:
        key = as_jagged(sort_by, where, "sort_by")
        if not np.array_equal(ak.to_numpy(ak.num(key, axis=1)), counts):
            raise UserError(f"{where}: sort_by key has a different number of elements per row than "
                            f"'{first}'")
        # Sort each row's elements in a [N, widest] table (short rows sort fast along axis 1),
        # for at most 256 elements a row; longer rows go through one global lexsort.
        if widest <= max(256, 4 * length):
            table = np.full((rows, widest), -np.inf)
            table[index, position] = _flat(key)
            order = np.argsort(-table, axis=1, kind="stable")[:, :length]  # [N, min(widest, P)]
            slots = order.shape[1]
            for channel, values in enumerate(jagged.values()):
                table = np.zeros((rows, widest), dtype=np.float32)
                table[index, position] = _flat(values)
                x[:, :slots, channel] = np.take_along_axis(table, order, axis=1)
        else:
            order = np.lexsort((-_flat(key), index))  # by row, then by key descending; stable
            keep = position < length
            for channel, values in enumerate(jagged.values()):
                x[index[keep], position[keep], channel] = _flat(values)[order][keep]
    mask = np.arange(length)[None, :] < np.minimum(counts, length)[:, None]  # [N, P]
    x *= mask[..., None]
    return x, mask


def _flat(values: Any) -> np.ndarray:
    """The elements of a jagged array, row after row, as one NumPy array."""
    import awkward as ak

    return np.asarray(ak.to_numpy(ak.flatten(values, axis=1)), dtype=np.float64)
