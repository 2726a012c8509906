"""Generated samples compared with real ones: histograms, separation powers, a classifier test.

A generative model (a VAE, a GAN) is good when its samples cannot be told
from the data. :func:`compare_samples` asks that in the three ways the Fast
Calorimeter Simulation Challenge 2022 does (C. Krause, M. Faucett Giannelli,
G. Kasieczka, B. Nachman et al., arXiv:2410.21611), and adds a check for mode
collapse:

1. **Observables.** For showers of quanta's calorimeter, the challenge's
   high-level observables (:mod:`quanta.evaluate.showers`); for any other data,
   the inputs of a flattened ``x`` (the :data:`GENERIC_FEATURES` of largest
   variance in the real sample) and the per-sample sum. Each is histogrammed
   on common edges (:data:`BINS` bins over the :data:`QUANTILES` range of both
   samples together; the end bins also hold the values beyond them; the cell
   energies on log-spaced bins) and compared by
   - the *separation power* ``0.5 sum_i (h_i - g_i)^2 / (h_i + g_i)`` of the
     unit-normalised histograms (the triangular discrimination: 0 for equal
     histograms, 1 for disjoint ones), and
   - the *Wasserstein-1 distance* of the two samples (in the observable's unit)
     and divided by the real sample's standard deviation, so that observables
     of different units can be averaged.
2. **The classifier test.** A fixed classifier learns to tell real from
   generated on half of both samples; its ROC AUC on the other half is 0.5 when
   they are indistinguishable and 1 when every sample is told apart. It is
   scikit-learn's ``HistGradientBoostingClassifier`` (up to 200 trees of 31
   leaves, learning rate 0.1, early stopping on a fifth of its half,
   ``random_state=seed``): boosted trees need no scaling of the inputs, cope
   with hundreds of sparse cell inputs in seconds and are deterministic for a
   seed, where a network would add a training schedule of its own to the
   result. The challenge trains a small fully connected network instead; the
   AUCs are of the same meaning, not the same numbers. It is trained twice:
   on the *low-level* inputs (``classifier_auc``: for showers every cell as
   ``log(1 + E / threshold)`` (the readout threshold: half a MIP), cells summed
   in blocks of 2 x 2, 4 x 4, ... until at most :data:`MAX_LOW_LEVEL_FEATURES`
   remain (30 x 32 x 32 cells: 4 x 4 blocks, 1,920 inputs), plus
   ``log E_incident``; for other
   data ``x`` flattened, its :data:`MAX_LOW_LEVEL_FEATURES` inputs of largest
   variance) and on the *high-level* observables (``classifier_auc_high_level``).
   At most :data:`MAX_PER_CLASS` samples of each kind take part (a seeded draw),
   on one thread (:data:`THREADS`). The whole comparison takes about 1 s for
   2,000 showers of 6 x 8 x 8 cells against 2,000, and 11 s for 4,000 of
   30 x 32 x 32.
3. **Diversity.** The mean distance of each generated sample to its nearest
   other generated sample, over the same for real samples (on the low-level
   inputs scaled by the real spread, :data:`DIVERSITY_ROWS` of each): 1 when
   the generator is as diverse as the data, towards 0 when it collapses onto a
   few modes (above 1: more spread than the data, e.g. noise in every cell);
   the same ratio of mean pairwise distances; and the fraction of generated
   samples that repeat another exactly.

Conditions: a conditional generator was given the real samples' conditions
(``conditions=("energy",)`` for showers), so generated sample ``i`` shares the
incident energy of real sample ``i`` and both use ``arrays["energy"]``: the
first observable is the total over the incident energy and the classifier
sees ``log E_incident`` too. Without ``"energy"`` in ``conditions`` (the
default, and every unconditional generator) nothing pairs the samples: the
total energy in GeV replaces the ratio and the classifier does not see the
energy, which is a fair comparison for any generator, only a less sharp one.

The record is strict JSON (finite floats in lists; a quantity that is
undefined, such as the diversity ratio when every real sample is the same, is
left out) and is written as ``<method>/generated.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quanta.errors import UserError

#: histogram bins per observable
BINS = 40
#: the histograms span these quantiles of both samples together
QUANTILES = (0.001, 0.999)
#: generic data: at most this many inputs of x (those of largest variance) are observables
GENERIC_FEATURES = 32
#: the classifier test: at most this many samples of each kind (real, generated)
MAX_PER_CLASS = 20_000
#: the classifier test's low-level inputs: at most this many per sample
MAX_LOW_LEVEL_FEATURES = 2048
#: threads of the classifier and the distances: one, so that the test costs the same wherever it
#: runs and never competes with other work (boosted trees' OpenMP threads slow down many-fold on a
#: busy machine: 42 s instead of 1.5 s for 2,000 showers on two loaded cores)
THREADS = 1
#: the diversity: at most this many samples of each kind
DIVERSITY_ROWS = 2000
#: the Wasserstein distance of a pooled observable (cell energies): at most this many values each
MAX_POOLED = 1_000_000
#: the classifier, fixed so that AUCs of different runs compare (see the module's docstring)
CLASSIFIER = (
    "HistGradientBoostingClassifier(max_iter=200, max_leaf_nodes=31, learning_rate=0.1, "
    "early_stopping with validation_fraction=0.2, n_iter_no_change=10, random_state=seed)"
)


# -- one observable ------------------------------------------------------------------------


def separation_power(real_counts: np.ndarray, fake_counts: np.ndarray) -> float:
    """The triangular discrimination of two histograms, each normalised to unit sum.

    ``0.5 sum (h - g)^2 / (h + g)`` over the bins where ``h + g > 0``: 0 for equal shapes, 1 for
    disjoint ones. An empty histogram shares nothing with the other: 1 (0 when both are empty).
    """
    h, g = np.asarray(real_counts, np.float64), np.asarray(fake_counts, np.float64)
    if h.sum() <= 0 or g.sum() <= 0:
        return 0.0 if h.sum() <= 0 and g.sum() <= 0 else 1.0
    h, g = h / h.sum(), g / g.sum()
    both = h + g > 0
    return float(min(1.0, 0.5 * np.sum((h[both] - g[both]) ** 2 / (h[both] + g[both]))))


def common_edges(
    real: np.ndarray, fake: np.ndarray, log: bool = False, bins: int = BINS
) -> np.ndarray:
    """Histogram edges shared by both samples: ``bins`` bins over the :data:`QUANTILES` range of
    both together (log-spaced with ``log``, positive values only), unit-wide bins centred on the
    integers when every value is an integer and they fit in ``bins``."""
    both = np.concatenate([real, fake])
    if log:
        both = both[both > 0]
        if both.size == 0:
            return np.geomspace(1e-3, 1.0, bins + 1)
        lo, hi = np.quantile(np.log(both), QUANTILES)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return np.exp(np.linspace(lo, hi, bins + 1))
    if both.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = (float(v) for v in np.quantile(both, QUANTILES))
    if np.all(both == np.round(both)):
        first, last = float(both.min()), float(both.max())
        if last - first + 1 <= bins:
            return np.arange(first - 0.5, last + 1.0)
        lo, hi = np.floor(lo) - 0.5, np.ceil(hi) + 0.5
    if hi <= lo:
        spread = max(abs(lo) * 0.05, 0.5)
        lo, hi = lo - spread, hi + spread
    return np.linspace(lo, hi, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Unit-normalised counts of ``values`` in ``edges``; the end bins also hold the values beyond
    them (all zeros for no values)."""
    clipped = np.clip(values, edges[0], edges[-1])
    counts = np.histogram(clipped, edges)[0].astype(np.float64)
    return counts / counts.sum() if counts.sum() > 0 else counts


def _subsample(values: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return values if len(values) <= limit else rng.choice(values, limit, replace=False)


def compare_observable(
    name: str,
    real: np.ndarray,
    fake: np.ndarray,
    unit: str = "",
    log: bool = False,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """One observable's record: common edges, both unit-normalised histograms, the separation
    power and the Wasserstein-1 distance (absolute, in ``unit``, and over the real spread; both
    left out when a sample is empty)."""
    from scipy.stats import wasserstein_distance

    real, fake = np.asarray(real, np.float64).ravel(), np.asarray(fake, np.float64).ravel()
    edges = common_edges(real, fake, log=log)
    h, g = histogram(real, edges), histogram(fake, edges)
    record: dict[str, Any] = {
        "name": name,
        "unit": unit,
        "log": log,
        "edges": edges.tolist(),
        "real": h.tolist(),
        "fake": g.tolist(),
        "separation_power": separation_power(h, g),
    }
    if real.size and fake.size:
        rng = np.random.default_rng(0) if rng is None else rng
        distance = float(
            wasserstein_distance(
                _subsample(real, MAX_POOLED, rng), _subsample(fake, MAX_POOLED, rng)
            )
        )
        spread = float(np.std(real)) or float(np.std(np.concatenate([real, fake]))) or 1.0
        record["wasserstein"] = distance
        record["wasserstein_normalised"] = distance / spread
    return record


# -- what is compared -------------------------------------------------------------------------


def is_calorimeter(real: np.ndarray, info: Mapping[str, Any]) -> bool:
    """Whether ``real`` are showers of quanta's calorimeter source (its image views, as its ``info``
    describes them and with the shape it gives)."""
    if info.get("view") not in ("image3d", "image2d") or not {
        "pixels",
        "layers",
        "generator",
    } <= set(info):
        return False
    pixels, layers = info["pixels"], info["layers"]
    expected = (1, layers, pixels, pixels) if info["view"] == "image3d" else (1, pixels, pixels)
    return tuple(real.shape[1:]) == expected


def _pooled(cells: np.ndarray, limit: int) -> tuple[np.ndarray, int]:
    """Showers ``[N, L, P, P]`` with cells summed in ``f x f`` blocks, ``f`` the smallest power of
    2 that leaves at most ``limit`` values (the last blocks padded with empty cells), and ``f``."""
    n, layers, pixels = cells.shape[0], cells.shape[1], cells.shape[2]
    factor = 1
    while layers * (-(-pixels // factor)) ** 2 > limit and factor < pixels:
        factor *= 2
    if factor == 1:
        return cells, 1
    blocks = -(-pixels // factor)
    padding = blocks * factor - pixels
    if padding:
        cells = np.pad(cells, ((0, 0), (0, 0), (0, padding), (0, padding)))
    blocked = cells.reshape(n, layers, blocks, factor, blocks, factor)
    pooled = blocked.sum(axis=5).sum(axis=3)  # the contiguous axis first: one fast pass
    return pooled, factor


def _shower_inputs(
    x: np.ndarray, energy: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, int]:
    """The classifier's low-level inputs of showers, ``log(1 + E / threshold)`` of (pooled) cells
    and ``log E_incident`` when known, and the width of the pooled blocks in cells."""
    from quanta.evaluate.showers import as_layers

    cells = as_layers(x)
    if cells.min(initial=0.0) < 0:  # a generator's negative cells read no energy
        cells = np.clip(cells, 0.0, None)
    cells, factor = _pooled(cells, MAX_LOW_LEVEL_FEATURES)
    features = np.log1p(cells.reshape(len(cells), -1) / threshold)
    if energy is not None:
        features = np.concatenate([features, np.log(energy)[:, None]], axis=1)
    return features.astype(np.float32), factor


def _largest_variance(real: np.ndarray, limit: int) -> np.ndarray:
    """Indices (ascending) of the ``limit`` columns of ``real`` of largest variance."""
    variance = real.var(axis=0)
    if len(variance) <= limit:
        return np.arange(len(variance))
    return np.sort(np.argsort(-variance, kind="stable")[:limit])


def _index_name(index: int, shape: tuple[int, ...]) -> str:
    """``x[3]`` for input 3 of a flat x, ``x[0,2,5]`` for an element of samples shaped ``shape``."""
    if len(shape) <= 1:
        return f"x[{index}]"
    return "x[" + ",".join(str(int(i)) for i in np.unravel_index(index, shape)) + "]"


def _finite_rows(fake: np.ndarray) -> np.ndarray:
    return np.isfinite(fake.reshape(len(fake), -1)).all(axis=1)


# -- the classifier test and the diversity ------------------------------------------------------


def classifier_auc(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    """The ROC AUC of the fixed classifier (:data:`CLASSIFIER`) telling ``fake`` (class 1) from
    ``real`` (class 0) on a held-out half of both; features ``[N, F]``, at most
    :data:`MAX_PER_CLASS` rows of each taken (a seeded draw)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng([seed, 17])
    n = min(len(real), len(fake), MAX_PER_CLASS)
    if n < 2:
        raise UserError(
            f"generated samples: the classifier test needs 2 samples of each kind; received {n}"
        )
    rows = [side[np.sort(rng.choice(len(side), n, replace=False))] for side in (real, fake)]
    features = np.concatenate(rows).astype(np.float32)
    labels = np.repeat([0, 1], n)
    halves = [rng.permutation(n) for _ in range(2)]
    train = np.concatenate([halves[0][: n // 2], n + halves[1][: n // 2]])
    test = np.concatenate([halves[0][n // 2 :], n + halves[1][n // 2 :]])
    classifier = HistGradientBoostingClassifier(
        max_iter=200,
        max_leaf_nodes=31,
        learning_rate=0.1,
        early_stopping=len(train) >= 200,
        validation_fraction=0.2,
        n_iter_no_change=10,
        random_state=seed % 2**32,
    )
    classifier.fit(features[train], labels[train])
    return float(roc_auc_score(labels[test], classifier.predict_proba(features[test])[:, 1]))


def _nearest_and_mean_distance(features: np.ndarray) -> tuple[float, float]:
    """The mean distance of each row to its nearest other row, and the mean over all pairs."""
    x = features.astype(np.float64)
    squared = np.sum(x**2, axis=1)
    distance = np.sqrt(
        np.clip(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0.0, None)
    )  # [n, n]
    pairs = distance[~np.eye(len(x), dtype=bool)]
    np.fill_diagonal(distance, np.inf)
    return float(distance.min(axis=1).mean()), float(pairs.mean())


def duplicate_fraction(samples: np.ndarray) -> float:
    """The fraction of ``samples`` (rows) that repeat an earlier one exactly."""
    flat = np.ascontiguousarray(samples.reshape(len(samples), -1))
    seen = {hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat}
    return 1.0 - len(seen) / len(flat) if len(flat) else 0.0


def diversity(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    real: np.ndarray,
    fake: np.ndarray,
    seed: int,
) -> dict[str, float]:
    """Nearest-neighbour and pairwise distance ratios (generated over real, on features scaled by
    the real spread; :data:`DIVERSITY_ROWS` of each) and the duplicate fractions."""
    rng = np.random.default_rng([seed, 23])
    n = min(len(real_features), len(fake_features), DIVERSITY_ROWS)
    scale = real_features.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    picked = [
        side[rng.choice(len(side), n, replace=False)] / scale
        for side in (real_features, fake_features)
    ]
    (real_nn, real_pairs), (fake_nn, fake_pairs) = (_nearest_and_mean_distance(p) for p in picked)
    record = {
        "rows": n,
        "duplicate_fraction": duplicate_fraction(fake),
        "real_duplicate_fraction": duplicate_fraction(real),
    }
    if real_nn > 0:
        record["nearest_neighbour_ratio"] = fake_nn / real_nn
    if real_pairs > 0:
        record["pairwise_ratio"] = fake_pairs / real_pairs
    return record


# -- everything ---------------------------------------------------------------------------------


def _summary(observables: list[dict[str, Any]]) -> dict[str, Any]:
    powers = [o["separation_power"] for o in observables]
    worst = int(np.argmax(powers))
    distances = [o["wasserstein_normalised"] for o in observables if "wasserstein_normalised" in o]
    summary = {
        "separation_power_mean": float(np.mean(powers)),
        "separation_power_max": powers[worst],
        "separation_power_max_observable": observables[worst]["name"],
    }
    if distances:
        summary["wasserstein_mean"] = float(np.mean(distances))
    return summary


def compare_samples(
    real: np.ndarray,
    fake: np.ndarray,
    arrays: Mapping[str, np.ndarray],
    info: Mapping[str, Any],
    seed: int,
    conditions: Sequence[str] = (),
) -> dict[str, Any]:
    """Compare generated samples ``fake`` with the real ``real``: the record of ``generated.json``.

    Args:
        real: the test split's ``x``, ``[N, ...]`` in the data's units (GeV for showers).
        fake: generated samples ``[M, ...]`` of the same sample shape, drawn with the test split's
            conditions (sample ``i`` with those of real sample ``i`` when ``M == N``). Samples with
            a non-finite value are counted (``samples.fake_not_finite``) and left out (showers
            paired by their energy with their real partners).
        arrays: the test split's named arrays (``energy``, the incident energy of showers).
        info: the data set's ``info``; quanta's calorimeter showers get its observables.
        seed: seeds the classifier test and every subsample.
        conditions: the arrays the generator was given (its ``conditions``); with ``"energy"``
            generated shower ``i`` is compared as having real shower ``i``'s energy.

    Returns:
        ``kind`` ("calorimeter showers" or "generic"), ``samples``, ``observables`` (each
        :func:`compare_observable`'s record), ``separation_power_mean`` / ``_max`` (and
        ``_max_observable``), ``wasserstein_mean`` (of the normalised distances),
        ``classifier_auc``, ``classifier_auc_high_level``, ``classifier`` (what it is and saw),
        ``diversity`` (:func:`diversity`).
    """
    from threadpoolctl import threadpool_limits  # scikit-learn's own thread control

    with threadpool_limits(THREADS):
        return _compare(np.asarray(real), np.asarray(fake), arrays, info, seed, conditions)


@dataclass
class _Inputs:
    """What one kind of data gives the comparison: the observables' records, and per side (real,
    generated) the high-level and low-level classifier inputs; ``about`` goes into the record."""

    observables: list[dict[str, Any]]
    high: tuple[np.ndarray, np.ndarray]
    low: tuple[np.ndarray, np.ndarray]
    low_level: str
    about: dict[str, Any]


def _shower_inputs_of(
    real: np.ndarray,
    fake: np.ndarray,
    energy: np.ndarray | None,
    info: Mapping[str, Any],
    rng: np.random.Generator,
) -> _Inputs:
    """Showers: the CaloChallenge observables, cells for the classifier; ``energy`` the incident
    energies shared by real and generated shower ``i`` (None: the generator was not given them)."""
    from quanta.evaluate import showers as shower

    threshold, cell_cm = shower.readout_threshold(), shower.cell_size_cm(int(info["pixels"]))
    observed = [
        shower.shower_observables(side, energy, cell_cm, threshold) for side in (real, fake)
    ]
    observables = [
        compare_observable(
            name, observed[0][name], observed[1][name], shower.unit_of(name), rng=rng
        )
        for name in observed[0]
    ]
    real_cells, fake_cells = (shower.cell_energies(side, threshold) for side in (real, fake))
    observables.append(compare_observable("cell_energy", real_cells, fake_cells, "GeV", True, rng))
    high = tuple(np.stack(list(side.values()), axis=1) for side in observed)
    if energy is not None:  # the classifier sees what the generator was given
        high = tuple(np.concatenate([side, np.log(energy)[:, None]], axis=1) for side in high)
    (real_low, factor), (fake_low, _) = (
        _shower_inputs(side, energy, threshold) for side in (real, fake)
    )
    low_level = (
        "log(1 + E / threshold) of every cell"
        + (f" (summed in {factor} x {factor} blocks)" if factor > 1 else "")
        + (" and log E_incident" if energy is not None else "")
    )
    about = {
        "kind": "calorimeter showers",
        "threshold": threshold,
        "cell_cm": cell_cm,
        "conditioned_on_energy": energy is not None,
    }
    return _Inputs(observables, high, (real_low, fake_low), low_level, about)


def _generic_inputs_of(real: np.ndarray, fake: np.ndarray, rng: np.random.Generator) -> _Inputs:
    """Any other data: the inputs of largest variance and the sum as observables, x flattened for
    the classifier."""
    flat = [side.reshape(len(side), -1).astype(np.float64) for side in (real, fake)]
    chosen = _largest_variance(flat[0], GENERIC_FEATURES)
    shape = tuple(real.shape[1:])
    observed = [
        {_index_name(int(i), shape): side[:, i] for i in chosen} | {"x_sum": side.sum(axis=1)}
        for side in flat
    ]
    observables = [
        compare_observable(name, observed[0][name], observed[1][name], rng=rng)
        for name in observed[0]
    ]
    high = tuple(np.stack(list(side.values()), axis=1) for side in observed)
    kept = _largest_variance(flat[0], MAX_LOW_LEVEL_FEATURES)
    low = tuple(side[:, kept].astype(np.float32) for side in flat)
    low_level = (
        "x flattened"
        if len(kept) == flat[0].shape[1]
        else f"the {len(kept)} inputs of x of largest variance"
    )
    return _Inputs(observables, high, low, low_level, {"kind": "generic"})


def _compare(
    real: np.ndarray,
    fake: np.ndarray,
    arrays: Mapping[str, np.ndarray],
    info: Mapping[str, Any],
    seed: int,
    conditions: Sequence[str],
) -> dict[str, Any]:
    if fake.ndim < 1 or tuple(fake.shape[1:]) != tuple(real.shape[1:]):
        raise UserError(
            f"generated samples: expected samples shaped {list(real.shape[1:])} like the data's x; "
            f"received {list(fake.shape[1:])}"
        )
    finite = _finite_rows(fake)
    if finite.sum() < 2:
        raise UserError(
            f"generated samples: {int((~finite).sum())} of {len(fake)} are not finite; "
            "at least 2 finite samples are needed to compare"
        )
    if not finite.all():
        fake = fake[finite]
    rng = np.random.default_rng([seed, 5])
    record: dict[str, Any] = {
        "samples": {
            "real": len(real),
            "fake": len(fake),
            "fake_not_finite": int((~finite).sum()),
        }
    }
    if is_calorimeter(real, info) and "energy" in arrays:
        energy = None
        if "energy" in conditions:  # generated shower i was given real shower i's energy
            energy = np.asarray(arrays["energy"], np.float64).reshape(-1)
            if len(energy) != len(real) or len(finite) != len(real):
                raise UserError(
                    f"generated samples: {len(finite)} generated and {len(real)} real showers with "
                    f"{len(energy)} incident energies; a conditional generator gives one per energy"
                )
            if not finite.all():
                real, energy = real[finite], energy[finite]  # the pairs stay pairs
        inputs = _shower_inputs_of(real, fake, energy, info, rng)
    else:
        inputs = _generic_inputs_of(real, fake, rng)
    record.update(inputs.about)
    record["observables"] = inputs.observables
    record.update(_summary(inputs.observables))
    record["classifier_auc"] = classifier_auc(*inputs.low, seed)
    record["classifier_auc_high_level"] = classifier_auc(*inputs.high, seed)
    record["classifier"] = {
        "model": CLASSIFIER,
        "rows_per_kind": min(len(inputs.low[0]), len(inputs.low[1]), MAX_PER_CLASS),
        "low_level": inputs.low_level,
        "low_level_features": int(inputs.low[0].shape[1]),
        "high_level_features": int(inputs.high[0].shape[1]),
    }
    record["diversity"] = diversity(*inputs.low, real, fake, seed)
    return record


__all__ = [
    "BINS",
    "CLASSIFIER",
    "MAX_PER_CLASS",
    "classifier_auc",
    "common_edges",
    "compare_observable",
    "compare_samples",
    "diversity",
    "duplicate_fraction",
    "histogram",
    "is_calorimeter",
    "separation_power",
]
