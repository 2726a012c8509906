"""The simulators' worker pool gives results in chunk order (its interruption is tested by the slow kill test)."""

from __future__ import annotations

import numpy as np

from quanta.simulators.parallel import run_chunks


def square(chunk):
    return {"y": np.arange(chunk) ** 2}


def test_chunks_come_back_in_order_from_several_workers():
    results = run_chunks(square, [3, 1, 4, 1, 5], total=14, label="squares", workers=2, progress=False)
    assert [r["y"].tolist() for r in results] == [[0, 1, 4], [0], [0, 1, 4, 9], [0], [0, 1, 4, 9, 16]]
