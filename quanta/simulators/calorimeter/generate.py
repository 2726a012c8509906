"""Simulation of a calorimeter data set in seeded chunks, run by parallel worker processes.

Each particle type is cut into chunks of ``CHUNK_SHOWERS`` showers; chunk
``i`` of particle ``p`` draws everything (energies, impact points, showers,
noise) from a generator seeded by ``(seed, p, i)`` alone, so a data set is
identical whatever the number of workers, and the showers of a smaller
``size`` are among those of a larger one with the same seed.

The result is stored sparse, as a zero-suppressed readout is: per shower the
number of hit cells, then for all hits their cell index
(``layer * P^2 + row * P + column``) and signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.simulators.calorimeter.deposits import spots_to_cells
from quanta.simulators.calorimeter.electromagnetic import conversion_depth, em_showers
from quanta.simulators.calorimeter.geometry import Calorimeter
from quanta.simulators.calorimeter.hadronic import pion_showers
from quanta.simulators.calorimeter.readout import read_out
from quanta.simulators.parallel import chunk_seed, chunk_sizes, run_chunks

GENERATOR_VERSION = "gflash-fe-scint-v1"  # change when the physics changes: it keys the cache
CHUNK_SHOWERS = 500  # ~0.1-0.5 s of work: small enough to balance workers
PARTICLE_CODES = {"e": 0, "gamma": 1, "pi": 2}  # seeds chunks; independent of the class list
PARTICLE_SETS = {"e_pi": ("e", "pi"), "e_gamma_pi": ("e", "gamma", "pi")}
PROGRESS_MIN_SHOWERS = 20_000  # ~3 s on one core: smaller data sets appear before a bar would help
IMPACT_HALF_WIDTH_CM = 1.0  # beam spot: impact point uniform in [-1, 1]^2 cm around the face centre


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``n_showers`` showers of ``particle`` (class ``label``) from seed ``seed``."""

    particle: str
    label: int
    index: int
    n_showers: int
    seed: int
    energy_min: float
    energy_max: float
    layers: int
    pixels: int


def plan_chunks(size: int, seed: int, particles: str, energy_min: float, energy_max: float, layers: int,
                pixels: int) -> list[Chunk]:
    """The chunks of a data set: ``size`` showers shared equally among the particle types, interleaved."""
    names = PARTICLE_SETS[particles]
    plans = []
    for label, name in enumerate(names):
        total = size // len(names) + (1 if label < size % len(names) else 0)
        plans.append([Chunk(name, label, i, n, chunk_seed(seed, PARTICLE_CODES[name], i), energy_min, energy_max,
                            layers, pixels)
                      for i, n in enumerate(chunk_sizes(total, CHUNK_SHOWERS))])
    longest = max(len(p) for p in plans)
    return [p[i] for i in range(longest) for p in plans if i < len(p)]


def simulate_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
    """The showers of one chunk, read out: sparse hits plus the truth of each shower."""
    rng = np.random.default_rng(chunk.seed)
    detector = Calorimeter(layers=chunk.layers, pixels=chunk.pixels)
    n = chunk.n_showers
    energy = np.exp(rng.uniform(np.log(chunk.energy_min), np.log(chunk.energy_max), n))  # log-uniform
    impact = rng.uniform(-IMPACT_HALF_WIDTH_CM, IMPACT_HALF_WIDTH_CM, (n, 2))
    em_fraction = np.ones(n)
    if chunk.particle == "pi":
        deposits, start, em_fraction = pion_showers(energy, impact, detector, rng)
    else:
        start = conversion_depth(n, detector, rng) if chunk.particle == "gamma" else np.zeros(n)
        deposits = em_showers(energy, np.arange(n), start, impact, np.zeros((n, 2)), detector, rng)
    event, cell, signal = spots_to_cells(deposits, detector, rng)
    event, cell, signal = read_out(event, cell, signal, n, detector, rng)
    return {
        "n_hits": np.bincount(event, minlength=n).astype(np.int32),
        "hit_cell": cell.astype(np.int32),
        "hit_energy": signal.astype(np.float32),
        "energy": energy.astype(np.float32),
        "particle": np.full(n, chunk.label, np.int64),
        "impact": impact.astype(np.float32),
        "start_depth": start.astype(np.float32),
        "em_fraction": em_fraction.astype(np.float32),
    }


def segment_rows(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], start[i] + count[i])`` for all i, without a Python loop."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + np.arange(total) - offsets


def reorder(arrays: dict[str, np.ndarray], order: np.ndarray) -> dict[str, np.ndarray]:
    """Showers in the order ``order``, moving each shower's hits with it."""
    count = arrays["n_hits"].astype(np.int64)
    start = np.cumsum(count) - count
    rows = segment_rows(start[order], count[order])
    return {key: value[rows] if key.startswith("hit_") else value[order] for key, value in arrays.items()}


def simulate(size: int, seed: int, particles: str, energy_min: float, energy_max: float, layers: int,
             pixels: int, workers: int = 0, progress: bool = True) -> dict[str, np.ndarray]:
    """All showers of a data set, rows shuffled with ``seed``; see :func:`simulate_chunk` for the arrays."""
    chunks = plan_chunks(size, seed, particles, energy_min, energy_max, layers, pixels)
    results = run_chunks(simulate_chunk, chunks, size, "simulating showers", unit="showers", workers=workers,
                         progress=progress and size >= PROGRESS_MIN_SHOWERS, count="energy")
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].label, chunks[i].index))
    arrays = {key: np.concatenate([results[i][key] for i in order]) for key in results[0]}
    return reorder(arrays, np.random.default_rng(seed).permutation(size))
