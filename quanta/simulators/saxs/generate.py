"""Model evaluation for a whole data set: chunks of one shape, run by parallel workers.

The random draws (classes, sizes, contrasts, noise) are all made in the main
process from the seed (:mod:`quanta.simulators.saxs.shapes`); workers only evaluate
sasmodels kernels on given parameter rows. So the data do not depend on the
number of workers, and a chunk is pure arithmetic that can run anywhere.

Cost on one core (default 152-point calculation grid, 15-point size
distribution): a sphere or core-shell sphere ~0.2 ms, a flexible cylinder
~0.6 ms, an ellipsoid ~3 ms and a cylinder ~12 ms. sasmodels integrates over
orientations adaptively: a long rod at high q needs 500 to 5000 angles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.simulators.parallel import run_chunks
from quanta.simulators.saxs import kernels

PHYSICS_VERSION = "v1"  # change when the physics changes: with the sasmodels version it keys the cache
CHUNK_SAMPLES = 200  # samples per task: 0.02-3 s of work, small enough to balance two workers
SERIAL_BELOW = 400  # smaller data sets are evaluated in this process (no pool start-up)
PROGRESS_FROM = 2000  # show progress for data sets of this size or more (several seconds)


@dataclass(frozen=True)
class Chunk:
    """One task: rows ``rows`` of the data set, all of shape ``shape``, with what the model needs."""

    shape: str
    rows: np.ndarray  # int64[n], positions in the data set
    parameters: np.ndarray  # float64[n, 9], PARAMETER_NAMES order
    q_calc: np.ndarray  # float64[M], 1/A
    polydispersity: float
    distribution: str


def generator_version() -> str:
    """The cache key of the physics: sasmodels' version and this module's :data:`PHYSICS_VERSION`."""
    return f"sasmodels{kernels.sasmodels_version()}-{PHYSICS_VERSION}"


def plan_chunks(shapes: tuple[str, ...], label: np.ndarray, parameters: np.ndarray, q_calc: np.ndarray,
                polydispersity: float, distribution: str) -> list[Chunk]:
    """Chunks of at most CHUNK_SAMPLES rows of one shape, shapes interleaved (even progress)."""
    per_shape = []
    for index, name in enumerate(shapes):
        rows = np.flatnonzero(label == index)
        per_shape.append([Chunk(name, part, parameters[part], q_calc, polydispersity, distribution)
                          for part in (rows[i:i + CHUNK_SAMPLES] for i in range(0, len(rows), CHUNK_SAMPLES))])
    longest = max(len(chunks) for chunks in per_shape)
    return [chunks[i] for i in range(longest) for chunks in per_shape if i < len(chunks)]


def evaluate_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
    """The unit intensities of one chunk (runs in a worker)."""
    intensity = kernels.evaluate(chunk.shape, chunk.parameters, chunk.q_calc, chunk.polydispersity,
                                 chunk.distribution)
    return {"rows": chunk.rows, "intensity": intensity.astype(np.float32)}


def simulate(shapes: tuple[str, ...], label: np.ndarray, parameters: np.ndarray, q_calc: np.ndarray,
             polydispersity: float, distribution: str, workers: int = 0,
             progress: bool = True) -> np.ndarray:
    """Unit-volume-fraction, background-free I(q_calc) of every sample, float32[N, M] in cm^-1."""
    chunks = plan_chunks(shapes, label, parameters, q_calc, polydispersity, distribution)
    for name in shapes:  # compile (once) and load before forking, so workers share the libraries
        kernels.load_model(name)
    results = run_chunks(evaluate_chunk, chunks, total=len(label), label="simulating saxs curves", unit="curves",
                         workers=1 if len(label) < SERIAL_BELOW else workers,
                         progress=progress and len(label) >= PROGRESS_FROM, count="rows")
    out = np.empty((len(label), len(q_calc)), np.float32)
    for result in results:
        out[result["rows"]] = result["intensity"]
    return out
