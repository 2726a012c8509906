"""The ``files`` source in streaming mode: a chunk plan and a chunk reader for :class:`Stream`."""

from __future__ import annotations

from typing import Any

import numpy as np

from quanta.data.files.inputs import Inputs
from quanta.data.files.readers import chunk_bounds, read
from quanta.data.stream.plan import Chunk, buffer_sizes, plan_chunks, read_ahead
from quanta.data.stream.stream import Stream, StreamSettings


def streamed(sources: list[tuple[str, int | None]], fmt: str, tree: str | None, spec: Inputs,
             needed: set[str] | None, probe: dict[str, np.ndarray], work_row_bytes: float, budget: int,
             workers: int, chunk_rows: int, reweight_to: str | None, reweight_bins: int, classes: list[str],
             on_bad_file, skipped: list[dict[str, str]], info: dict[str, Any]) -> Stream:
    """A :class:`Stream` over ``sources`` whose chunks and buffer fit ``budget`` bytes."""
    from quanta.data.files import class_names

    row_bytes = float(sum(v.dtype.itemsize * int(np.prod(v.shape[1:])) for v in probe.values()))
    auto_rows, buffer_rows = buffer_sizes(budget, work_row_bytes, row_bytes, workers)
    chunk_rows = chunk_rows or auto_rows
    chunks = plan_chunks(sources, [chunk_bounds(path, fmt, tree, chunk_rows) for path, _ in sources])
    depth = read_ahead(budget, work_row_bytes, max(chunk.rows for chunk in chunks), workers)

    def read_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
        columns = read(chunk.path, fmt, tree, needed, chunk.start, chunk.stop)
        return spec.arrays(columns, chunk.path, chunk.class_index, chunk.start, allow_empty=True)

    settings = StreamSettings(memory=budget, workers=min(workers, depth), depth=depth, buffer_rows=buffer_rows,
                              reweight_bins=reweight_bins, reweight_to=reweight_to,
                              on_bad_file=on_bad_file)
    shapes = {name: tuple(value.shape[1:]) for name, value in probe.items() if name not in ("row", "extra0")}
    info = {**info, "streaming": True, "memory_bytes": budget, "chunk_rows": chunk_rows,
            "buffer_rows": buffer_rows, "chunks": len(chunks), "read_ahead": depth, "skipped_files": skipped}
    return Stream(chunks, read_chunk, settings, shapes, name="files", feature_names=spec.names,
                  classes=class_names(classes, spec.label, spec.label_is_bool, None), info=info)
