"""The training inputs in binned form, per class: what the report's Input variables section shows.

A physicist opening a report expects the input variables of each class overlaid (as TMVA shows
signal and background), their linear correlations per class, the weight distribution and, for
images or sets, the mean image and the multiplicity. The report reads only the run directory, so
the summary is computed when the run is made, from the training split, and kept as binned counts,
never rows: a 1M-row run gives a file of a few hundred kB.

:func:`summarise_inputs` takes NumPy arrays; :func:`summarise_part` takes a training part (in
memory or streamed) and reads at most :data:`ROW_LIMIT` of its rows (a streamed part: chunks
spread over the files, never the whole stream a second time).

Layouts, from the shape of ``x`` (and ``mask``):

- ``table``: ``x[N, F]``, one histogram per feature (the first :data:`FEATURE_LIMIT`).
- ``image``: ``x[N, H, W]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]`` (averaged over the depth D
  and any further axis), the mean image per class, block-averaged to at most :data:`IMAGE_SIDE`
  pixels a side.
- ``set``: ``x[N, P, C]`` with ``mask[N, P]`` (or a sequence without a mask: every element
  valid), the multiplicity per class and each per-element feature over the valid elements.

Groups: the classes (``grouping="classes"``, labels ``y[N]`` = class index), else one group
``all`` (``"regression"``, where each input's correlation with each target column of ``y`` is
kept, or ``None``: no targets used). Histograms are normalised per group to unit total weight,
underflow and overflow included, and use the per-event weights when there are any.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: At most this many training rows are summarised (a seeded subset of a larger part).
ROW_LIMIT = 200_000
#: Histograms and correlations of at most this many features (the first ones).
FEATURE_LIMIT = 64
#: Bins of a histogram between the robust quantiles of the pooled data.
BINS = 40
#: The fraction of the pooled data outside the bins on each side (before the under/overflow).
TAIL = 0.005
#: Mean images are block-averaged to at most this many pixels a side, at most this many channels.
IMAGE_SIDE = 48
IMAGE_CHANNELS = 4
#: At most this many set elements are histogrammed (a seeded subset of the valid ones).
ELEMENT_LIMIT = 2_000_000
#: What the task's scores are (``Evaluation.output``) -> how the inputs are grouped.
GROUPING_OF_OUTPUT = {
    "signal_probability": "classes",
    "class_probabilities": "classes",
    "values": "regression",
    "anomaly_scores": "classes",  # labels, when present, only evaluate: the inputs per class
}
#: Significant digits kept in the record.
DIGITS = 5


def _rounded(values: Any) -> Any:
    """Nested lists of floats with :data:`DIGITS` significant digits; NaN and Inf as None."""
    array = np.asarray(values, dtype=np.float64)
    flat = [
        None if not math.isfinite(v) else float(f"{v:.{DIGITS}g}") for v in array.ravel().tolist()
    ]
    if array.ndim == 0:
        return flat[0]
    return np.array(flat, dtype=object).reshape(array.shape).tolist()


def _edges(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Common bin edges of one variable (pooled over groups) and whether it is integer-valued.

    An integer variable spanning at most 60 values gets one bin per value; any other gets
    :data:`BINS` bins between its :data:`TAIL` and 1 - :data:`TAIL` quantiles.
    """
    if values.size == 0:
        return np.linspace(-0.5, 0.5, BINS + 1), False
    low, high = float(values.min()), float(values.max())
    if high - low <= 60 and np.all(values == np.round(values)):
        return np.arange(low - 0.5, high + 1.0), True
    q_low, q_high = (float(q) for q in np.quantile(values, [TAIL, 1.0 - TAIL]))
    if not q_high > q_low:
        q_low, q_high = low, high
    if not q_high > q_low:
        q_low, q_high = low - 0.5, high + 0.5
    return np.linspace(q_low, q_high, BINS + 1), False


def _binned(
    values: np.ndarray, group: np.ndarray, weight: np.ndarray, n_groups: int, edges: np.ndarray
) -> np.ndarray:
    """``[n_groups, bins + 2]`` weight sums: underflow, the bins, overflow (last edge inclusive)."""
    bins = len(edges) - 1
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = bins - 1
    code = np.clip(index, -1, bins) + 1
    flat = np.bincount(group * (bins + 2) + code, weights=weight, minlength=n_groups * (bins + 2))
    return flat.reshape(n_groups, bins + 2)


def _histograms(
    values: np.ndarray,
    names: list[str],
    group: np.ndarray,
    weight: np.ndarray,
    n_groups: int,
    edges: list[np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """One normalised histogram per column of ``values[n, k]`` and group (see module docs)."""
    totals = np.bincount(group, weights=weight, minlength=n_groups)
    scale = np.where(totals != 0, 1.0 / np.where(totals != 0, totals, 1.0), 0.0)[:, None]
    out = []
    for column, name in enumerate(names):
        column_values = values[:, column].astype(np.float64, copy=False)
        given = edges[column] if edges is not None else None
        column_edges, integer = (given, True) if given is not None else _edges(column_values)
        sums = _binned(column_values, group, weight, n_groups, column_edges) * scale
        out.append(
            {
                "name": name,
                "edges": _rounded(column_edges),
                "integer": bool(integer),
                "counts": _rounded(sums[:, 1:-1]),
                "underflow": _rounded(sums[:, 0]),
                "overflow": _rounded(sums[:, -1]),
            }
        )
    return out


def _correlation(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The weighted linear (Pearson) correlation matrix of the columns of ``values[n, k]``;
    NaN where a column is constant."""
    values = values.astype(np.float64, copy=False)
    total = weight.sum()
    if values.shape[0] < 2 or total == 0:
        return np.full((values.shape[1], values.shape[1]), np.nan)
    centred = values - (weight @ values) / total
    covariance = (centred * weight[:, None]).T @ centred / total
    spread = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = covariance / np.outer(spread, spread)
    correlation[~np.isfinite(correlation)] = np.nan
    return np.clip(correlation, -1.0, 1.0)


def _correlations(
    values: np.ndarray, names: list[str], group: np.ndarray, weight: np.ndarray, n_groups: int
) -> dict[str, Any]:
    return {
        "names": names,
        "matrices": [
            _rounded(_correlation(values[group == g], weight[group == g])) for g in range(n_groups)
        ],
    }


def _target_correlation(
    values: np.ndarray, names: list[str], targets: np.ndarray, weight: np.ndarray
) -> dict[str, Any]:
    """Each input's weighted linear correlation with each target column."""
    targets = targets.reshape(len(targets), -1)
    both = _correlation(np.concatenate([targets.astype(np.float64), values], axis=1), weight)
    k = targets.shape[1]
    labels = ["target"] if k == 1 else [f"target {i}" for i in range(k)]
    return {"targets": labels, "names": names, "values": _rounded(both[:k, k:])}


def _weights(weight: np.ndarray, group: np.ndarray, n_groups: int) -> dict[str, Any]:
    """The event-weight distribution per group (events counted once, normalised) and its numbers."""
    ones = np.ones_like(weight)
    (histogram,) = _histograms(weight[:, None], ["weight"], group, ones, n_groups)
    stats = []
    for g in range(n_groups):
        mine = weight[group == g]
        stats.append(
            {
                "events": int(mine.size),
                "sum": _rounded(mine.sum()),
                "mean": _rounded(mine.mean() if mine.size else np.nan),
                "min": _rounded(mine.min() if mine.size else np.nan),
                "max": _rounded(mine.max() if mine.size else np.nan),
                "negative": int(np.sum(mine < 0)),
            }
        )
    return {**histogram, "stats": stats}


def _mean_images(
    x: np.ndarray, group: np.ndarray, weight: np.ndarray, n_groups: int
) -> dict[str, Any]:
    """The weighted mean image per group, ``[channel][row][column]``, block-averaged."""
    shape = list(x.shape[1:])
    if x.ndim == 3:
        x = x[:, None]
    depth = x.ndim >= 5  # [N, C, D, ..., H, W]: averaged over every axis between C and H
    channels = min(x.shape[1], IMAGE_CHANNELS)
    height, width = x.shape[-2:]
    factor = max(1, math.ceil(max(height, width) / IMAGE_SIDE))
    rows, columns = height // factor * factor, width // factor * factor
    sums = np.zeros((n_groups, channels, rows // factor, columns // factor))
    for start in range(0, len(x), 8192):  # bounded memory for large images
        block = x[start : start + 8192, :channels].astype(np.float64)
        if depth:
            block = block.mean(axis=tuple(range(2, block.ndim - 2)))
        block = block[..., :rows, :columns]
        block = block.reshape(*block.shape[:2], rows // factor, factor, columns // factor, factor)
        block = block.mean(axis=(3, 5))
        mine, w = group[start : start + 8192], weight[start : start + 8192]
        for g in range(n_groups):
            chosen = mine == g
            sums[g] += np.tensordot(w[chosen], block[chosen], axes=1)
    totals = np.bincount(group, weights=weight, minlength=n_groups)
    means = sums / np.where(totals != 0, totals, 1.0)[:, None, None, None]
    return {
        "shape": shape,
        "channels": int(x.shape[1]),
        "channels_shown": channels,
        "factor": factor,
        "depth_averaged": depth,
        "mean": [_rounded(m) for m in means],
    }


def _layout(x: np.ndarray, mask: np.ndarray | None, feature_names: list[str] | None) -> str:
    if x.ndim == 2:
        return "table"
    if x.ndim == 3 and (mask is not None or (feature_names and len(feature_names) == x.shape[2])):
        return "set"
    return "image"


def _groups(
    y: np.ndarray | None, grouping: str | None, classes: list[str] | None, n: int
) -> tuple[np.ndarray, list[dict[str, Any]], str | None]:
    """Each row's group number and the groups (name, label) in order."""
    if grouping == "classes" and y is not None and y.ndim == 1:
        labels = np.rint(y).astype(np.int64)
        values = sorted(set(np.unique(labels).tolist()) | set(range(len(classes or []))))
        names = [classes[v] if classes and 0 <= v < len(classes) else str(v) for v in values]
        group = np.searchsorted(np.asarray(values, dtype=np.int64), labels)  # every label is there
        return (
            group,
            [{"name": name, "label": v} for name, v in zip(names, values, strict=True)],
            "classes",
        )
    used = "regression" if grouping == "regression" and y is not None else None
    return np.zeros(n, dtype=np.int64), [{"name": "all", "label": None}], used


def summarise_inputs(
    x: np.ndarray,
    y: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    feature_names: list[str] | None = None,
    classes: list[str] | None = None,
    grouping: str | None = "classes",
    seed: int = 0,
    rows: int | None = None,
) -> dict[str, Any]:
    """The binned summary of training inputs (see the module docs), as a JSON-ready dict.

    Args:
        x: inputs ``[N, F]``, ``[N, H, W]``, ``[N, C, H, W]``, ``[N, C, D, H, W]`` or ``[N, P, C]``.
        y: class labels ``[N]`` (``grouping="classes"``) or regression targets ``[N]``/``[N, T]``.
        weight: per-event weights ``[N]`` (histograms and correlations use them), or None.
        mask: ``bool[N, P]``, the valid elements of a set, or None.
        feature_names: names of the features (the last axis of a table or set).
        classes: class names by label value.
        grouping: ``"classes"``, ``"regression"`` or None (one group, targets unused).
        seed: seeds the subset of at most :data:`ROW_LIMIT` rows.
        rows: the size of the whole part, when ``x`` is already a subset of it.
    """
    x = np.asarray(x)
    total_rows = int(rows if rows is not None else len(x))
    rng = np.random.default_rng([int(seed), 16])
    if len(x) > ROW_LIMIT:
        chosen = np.sort(rng.choice(len(x), ROW_LIMIT, replace=False))
        x = x[chosen]
        y = None if y is None else np.asarray(y)[chosen]
        weight = None if weight is None else np.asarray(weight)[chosen]
        mask = None if mask is None else np.asarray(mask)[chosen]
    y = None if y is None else np.asarray(y)
    weighted = weight is not None
    w = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64).reshape(len(x))
    group, groups, used = _groups(y, grouping, classes, len(x))
    n_groups = len(groups)
    totals = np.bincount(group, weights=w, minlength=n_groups)
    for g, record in enumerate(groups):
        record.update(rows=int(np.sum(group == g)), weight_sum=_rounded(totals[g]))
    event_group, event_weight = group, w
    layout = _layout(x, mask, feature_names)
    summary: dict[str, Any] = {
        "layout": layout,
        "grouping": used,
        "groups": groups,
        "rows": total_rows,
        "rows_used": int(len(x)),
        "row_limit": ROW_LIMIT,
        "weighted": weighted,
        "input_shape": list(x.shape[1:]),
    }
    if layout == "image":
        summary["images"] = _mean_images(x, group, w, n_groups)
    else:
        if layout == "set":
            valid = (
                np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
            )
            multiplicity = valid.sum(axis=1).astype(np.float64)
            edges = [np.arange(-0.5, x.shape[1] + 1.0)]
            (summary["multiplicity"],) = _histograms(
                multiplicity[:, None], ["multiplicity"], group, w, n_groups, edges
            )
            summary["multiplicity"]["mean"] = _rounded(
                [
                    np.average(multiplicity[group == g], weights=w[group == g])
                    if totals[g]
                    else np.nan
                    for g in range(n_groups)
                ]
            )
            rows_of, _ = np.nonzero(valid)
            if len(rows_of) > ELEMENT_LIMIT:
                rows_of_chosen = np.sort(rng.choice(len(rows_of), ELEMENT_LIMIT, replace=False))
                values = x[valid][rows_of_chosen]
                rows_of = rows_of[rows_of_chosen]
            else:
                values = x[valid]
            summary["elements"] = int(len(rows_of))
            group, w = group[rows_of], w[rows_of]
        else:
            values = x
        count = values.shape[1]
        names = (
            list(feature_names)
            if feature_names and len(feature_names) == count
            else [f"x{i}" for i in range(count)]
        )
        shown = min(count, FEATURE_LIMIT)
        values, names = values[:, :shown], names[:shown]
        summary["features"] = {
            "total": int(count),
            "shown": int(shown),
            "histograms": _histograms(values, names, group, w, n_groups),
        }
        summary["correlation"] = _correlations(values, names, group, w, n_groups)
        if used == "regression" and layout == "table":
            summary["target_correlation"] = _target_correlation(values, names, y, w)
            targets = y.reshape(len(y), -1)
            labels = summary["target_correlation"]["targets"]
            summary["targets"] = _histograms(targets, labels, group, w, n_groups)
    if weighted:
        summary["weights"] = _weights(event_weight, event_group, n_groups)
    return summary


def _sample_chunks(part: Any, limit: int) -> list:
    """Chunks of a streamed part spread evenly over its plan, holding about ``limit`` rows."""
    counted = [(chunk, count) for chunk, count in part.chunk_counts if count]
    total = sum(count for _, count in counted)
    if total <= limit:
        return [chunk for chunk, _ in counted]
    chosen, rows = [], 0
    for index in _spread(len(counted)):
        chosen.append(index)
        count = counted[index][1]
        rows += count
        if rows >= limit:
            break
    return [counted[i][0] for i in sorted(chosen)]


def _spread(n: int) -> list[int]:
    """0 .. n-1 in an order that covers the range evenly at every length (bit-reversal-like)."""
    order, seen = [], set()
    step = 1 << max(0, (n - 1).bit_length())
    while step >= 1:
        for index in range(0, n, step):
            if index not in seen:
                seen.add(index)
                order.append(index)
        step //= 2
    return order


def summarise_part(
    part: Any,
    feature_names: list[str] | None,
    classes: list[str] | None,
    output: str | None,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`summarise_inputs` of a training part (a Dataset, or a streamed part read in chunks).

    ``output`` is the task's ``Evaluation.output`` (what its scores are), which decides the
    grouping (:data:`GROUPING_OF_OUTPUT`).
    """
    grouping = GROUPING_OF_OUTPUT.get(output or "")
    names = ("x", "y", "weight", "mask")
    if getattr(part, "streamed", False):
        from quanta.data.stream.prefetch import prefetched

        settings = part.stream.settings
        read = [
            arrays
            for arrays in prefetched(
                _sample_chunks(part, ROW_LIMIT), part.read, settings.workers, settings.depth
            )
        ]
        arrays = {
            key: np.concatenate([a[key] for a in read]) for key in names if read and key in read[0]
        }
        if not read:
            arrays = {"x": np.zeros((0, *part.input_shape), dtype=np.float32)}
    else:
        arrays = {key: part[key] for key in names if key in part}
    return summarise_inputs(
        arrays["x"],
        arrays.get("y"),
        arrays.get("weight"),
        arrays.get("mask"),
        feature_names,
        classes,
        grouping,
        seed,
        rows=len(part),
    )


__all__ = ["FEATURE_LIMIT", "ROW_LIMIT", "summarise_inputs", "summarise_part"]
