"""A data set streamed from disk: chunks of files, one scan, then parts read on demand.

:class:`Stream` is what the ``files`` source returns when the data does not
fit the memory budget (or when streaming is asked for). It reads nothing up
front but a probe. :meth:`Stream.split` makes one pass over every chunk - the
scan - which checks every file (so that a bad one fails before training, not
in its tenth epoch), counts each chunk's rows per split, keeps the small
per-row targets (``y``, ``weight``) and accumulates the input moments of the
training split for standardisation. Each :class:`StreamPart` (train, valid,
test) then reads its rows again whenever a loader iterates it
(:mod:`.loader`). Inputs ``x`` are never held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quanta.data.reweight import Reweighting
from quanta.data.stream.plan import SPLIT_CODES, Chunk, distributed_rank, shard, split_codes
from quanta.data.stream.prefetch import prefetched
from quanta.data.transforms import Standardize
from quanta.errors import UserError

Arrays = dict[str, np.ndarray]
TARGETS = ("y", "weight")


@dataclass
class StreamSettings:
    """How a stream reads: budget, threads, buffer, reweighting, distributed shard."""

    memory: int
    workers: int = 2
    depth: int = 3  # chunks in flight
    buffer_rows: int = 100_000
    reweight_bins: int = 20
    reweight_to: str | None = None  # None: no reweighting; else flat, common or a class name
    #: the bad-file policy: None raises on a file that cannot be read; a function
    #: ``(path, reason, skipped)`` records the file in ``skipped`` and the stream goes on without it
    on_bad_file: Callable[[str, str, list[dict[str, str]]], None] | None = None
    rank: int | None = None
    world: int | None = None


@dataclass
class _Moments:
    """Per-channel sums of training inputs, kept per chunk so that a failed file's chunks can be dropped.

    Sums are taken about a common shift (the mean of the first rows seen) for precision.
    """

    axis: int
    shift: np.ndarray | None = None
    sums: dict[int, tuple[float, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def add(self, number: int, x: np.ndarray, mask: np.ndarray | None) -> None:
        values = x[mask] if mask is not None and x.ndim == 3 else np.moveaxis(x, self.axis, -1).reshape(-1, x.shape[self.axis])
        values = values.astype(np.float64)
        if len(values) == 0:
            return
        if self.shift is None:
            self.shift = values.mean(axis=0)
        centred = values - self.shift
        self.sums[number] = (len(values), centred.sum(axis=0), (centred**2).sum(axis=0))

    def keep(self, numbers: set[int]) -> None:
        """Forget the chunks not in ``numbers``."""
        self.sums = {n: v for n, v in self.sums.items() if n in numbers}

    def transform(self, epsilon: float = 1e-8) -> Standardize:
        count = sum(c for c, _, _ in self.sums.values())
        if not count:
            raise UserError("cannot standardise inputs: no samples in the training split")
        mean = sum(t for _, t, _ in self.sums.values()) / count
        squares = sum(q for _, _, q in self.sums.values()) / count
        std = np.sqrt(np.maximum(squares - mean**2, 0.0))
        return Standardize.from_state({"mean": (mean + self.shift).astype(np.float32),
                                       "scale": np.maximum(std, epsilon).astype(np.float32),
                                       "axis": np.array(self.axis)})


class Stream:
    """A data set in files, read chunk by chunk.

    Args:
        chunks: the plan: every chunk of every file.
        read_chunk: reads one chunk and returns its selected rows' arrays
            (``x``, ``mask``, ``y``, ``weight``, ``extra0`` for the
            reweighting variable, and ``row``, the row index in the file).
        settings: budget, threads, buffer and reweighting.
        shapes: per-sample shapes of the arrays (from the probe).
        name, feature_names, classes, info: as for a :class:`Dataset`.
    """

    def __init__(self, chunks: Sequence[Chunk], read_chunk: Callable[[Chunk], Arrays], settings: StreamSettings,
                 shapes: dict[str, tuple[int, ...]], name: str = "files", feature_names: list[str] | None = None,
                 classes: list[str] | None = None, info: dict[str, Any] | None = None):
        self.chunks = list(chunks)
        self.read_chunk = read_chunk
        self.settings = settings
        self.shapes = dict(shapes)
        self.name = name
        self.feature_names = feature_names
        self.classes = classes
        self.info = dict(info or {})
        self.reweighting: Reweighting | None = None
        self.y_dtype: np.dtype | None = None  # targets as the task wants them (set by check_targets)
        self._parts: dict[tuple, dict[str, StreamPart]] = {}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.shapes["x"])

    def __contains__(self, key: object) -> bool:
        return key in self.shapes

    streamed = True

    def checked(self, check_targets, needs_targets: bool = True) -> Stream:
        """Itself: chunks are checked as they are read, targets per part (:meth:`parts`)."""
        return self

    def parts(self, fractions: Sequence[float], seed: int,
              check_targets: Callable[[np.ndarray, str], np.ndarray] | None = None) -> dict[str, StreamPart]:
        """Train, valid and test parts (one scan), their targets checked by ``check_targets``."""
        parts = self.split(fractions, seed)
        if len(parts["train"]) == 0:
            raise UserError(f"data.split: the training part is empty ({fractions})")
        if check_targets is not None:
            for part in parts.values():
                part.check_targets(check_targets)
        return parts

    def split(self, fractions: Sequence[float], seed: int) -> dict[str, StreamPart]:
        """Scan every chunk once and return the train, valid and test parts."""
        fractions = tuple(float(f) for f in fractions)
        key = (fractions, seed)
        if key not in self._parts:
            self._parts[key] = self._scan(fractions, seed)
        return self._parts[key]

    def _scan(self, fractions: tuple[float, ...], seed: int) -> dict[str, StreamPart]:
        counts: dict[int, np.ndarray] = {}
        kept: dict[int, dict[int, dict[str, np.ndarray]]] = {}  # chunk number -> split code -> arrays
        bad: set[int] = set()
        x_ndim = len(self.shapes["x"]) + 1
        moments = _Moments(axis=1 if x_ndim >= 4 else x_ndim - 1)
        settings = self.settings

        def scanned(number: int) -> tuple[int, Arrays | UserError]:
            chunk = self.chunks[number]
            if chunk.file in bad:
                return number, UserError("skipped")
            try:
                return number, self.read_chunk(chunk)
            except UserError as error:
                if settings.on_bad_file is None:
                    raise
                return number, error

        for number, arrays in prefetched(range(len(self.chunks)), scanned, settings.workers, settings.depth):
            chunk = self.chunks[number]
            if isinstance(arrays, UserError):
                if chunk.file not in bad:
                    bad.add(chunk.file)
                    settings.on_bad_file(chunk.path, str(arrays), self.info.setdefault("skipped_files", []))
                continue
            codes = split_codes(seed, chunk.file, arrays["row"], fractions)
            counts[number] = np.bincount(codes, minlength=3)
            kept[number] = {code: {name: arrays[name][codes == code] for name in (*TARGETS, "extra0")
                                   if name in arrays} for code in SPLIT_CODES.values()}
            train = codes == SPLIT_CODES["train"]
            moments.add(number, arrays["x"][train], arrays["mask"][train] if "mask" in arrays else None)
        if bad:  # a file that failed part-way contributes nothing, also from its earlier chunks
            good = {n for n in counts if self.chunks[n].file not in bad}
            counts = {n: counts[n] for n in sorted(good)}
            kept = {n: kept[n] for n in sorted(good)}
            moments.keep(good)
        total = sum(int(c.sum()) for c in counts.values())
        if total == 0:
            raise UserError(f"{self.name}: no rows to learn from in {len(self.chunks)} chunks of "
                            f"{len({c.path for c in self.chunks})} files (does the selection keep any?)")
        names = {name for record in kept.values() for name in record[0]}
        targets = {code: {name: np.concatenate([kept[n][code][name] for n in sorted(kept)]) for name in names}
                   for code in SPLIT_CODES.values()}
        if settings.reweight_to is not None:
            every = {name: np.concatenate([targets[c][name] for c in targets]) for name in targets[0]}
            self.reweighting = Reweighting.fit(every["extra0"], every["y"], every.get("weight"),
                                               settings.reweight_bins, settings.reweight_to, self.classes)
            for named in targets.values():
                factor = self.reweighting(named["extra0"], named["y"])
                named["weight"] = named["weight"] * factor if "weight" in named else factor
        for named in targets.values():
            named.pop("extra0", None)
        if self.classes is None and "y" in targets[0] and targets[0]["y"].dtype.kind in "iu" \
                and targets[0]["y"].ndim == 1:  # class indices, not regression targets
            top = max((int(t["y"].max()) for t in targets.values() if len(t["y"])), default=0)
            self.classes = [str(i) for i in range(top + 1)]
        parts = {}
        for name, code in SPLIT_CODES.items():
            chunk_counts = [(self.chunks[i], int(c[code])) for i, c in sorted(counts.items())]
            parts[name] = StreamPart(self, name, code, fractions, seed, chunk_counts, targets[code],
                                     moments if name == "train" else None)
        return parts

    def chunk_arrays(self, chunk: Chunk, code: int, fractions: tuple[float, ...], seed: int,
                     transform: Standardize | None, target_transform: Any = None) -> Arrays:
        """The rows of ``chunk`` in split ``code``, reweighted and transformed, without bookkeeping arrays."""
        arrays = self.read_chunk(chunk)
        chosen = split_codes(seed, chunk.file, arrays["row"], fractions) == code
        arrays = {name: value[chosen] for name, value in arrays.items()}
        if self.reweighting is not None:
            factor = self.reweighting(arrays["extra0"], arrays["y"])
            arrays["weight"] = arrays["weight"] * factor if "weight" in arrays else factor
        arrays.pop("extra0", None)
        arrays.pop("row", None)
        if self.y_dtype is not None and "y" in arrays:
            arrays["y"] = arrays["y"].astype(self.y_dtype, copy=False)
        if transform is not None:
            arrays["x"] = transform.apply_arrays(arrays["x"], arrays.get("mask"))
        if target_transform is not None and "y" in arrays:
            arrays["y"] = target_transform.apply_arrays(arrays["y"])
        return arrays


@dataclass
class StreamPart:
    """One split of a :class:`Stream`: its chunks, its row count and its targets.

    It offers what an in-memory :class:`~quanta.data.dataset.Dataset` part
    offers to estimators (``shapes``, ``targets``, ``standardize``,
    ``with_transform``, ``loader``, ``in_chunks``), so that they never ask
    which of the two they hold; ``streamed`` says it for methods that choose
    another algorithm for data on disk.
    """

    streamed = True

    stream: Stream
    name: str
    code: int
    fractions: tuple[float, ...]
    seed: int
    chunk_counts: list[tuple[Chunk, int]]
    targets: Arrays
    moments: _Moments | None = None
    transform: Standardize | None = field(default=None, repr=False)
    target_transform: Any = field(default=None, repr=False)  # a TargetScaling of y, or None

    def __len__(self) -> int:
        return sum(count for _, count in self.chunk_counts)

    def __contains__(self, key: object) -> bool:
        return key in self.stream.shapes or key in self.targets

    @property
    def y(self) -> np.ndarray:
        return self.targets["y"]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return self.stream.shapes

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.stream.input_shape

    @property
    def feature_names(self) -> list[str] | None:
        return self.stream.feature_names

    @property
    def classes(self) -> list[str] | None:
        return self.stream.classes

    @property
    def chunks(self) -> list[Chunk]:
        """The chunks holding rows of this part, in file order."""
        return [chunk for chunk, count in self.chunk_counts if count]

    def shard(self) -> list[Chunk]:
        """The chunks this distributed rank trains on (all of them for a single process)."""
        rank, world = distributed_rank()
        rank = self.stream.settings.rank if self.stream.settings.rank is not None else rank
        world = self.stream.settings.world if self.stream.settings.world is not None else world
        return shard(self.chunks, rank, world, self.seed) if world > 1 else self.chunks

    def rows_of(self, chunks: Sequence[Chunk]) -> int:
        counts = dict((chunk, count) for chunk, count in self.chunk_counts)
        return sum(counts[chunk] for chunk in chunks)

    def check_targets(self, check: Callable[[np.ndarray, str], np.ndarray]) -> None:
        """Apply a task's target check to this part's targets; batches follow its dtype."""
        if "y" not in self.targets:  # an unsupervised task on files without labels
            return
        where = self.stream.info.get("targets_from") or f"{self.stream.name} targets"
        self.targets["y"] = check(self.targets["y"], f"{where} ({self.name} split)")
        self.stream.y_dtype = self.targets["y"].dtype

    def standardize(self) -> Standardize:
        """A standardisation fitted on this (training) part's inputs during the scan."""
        if self.moments is None:
            raise UserError(f"{self.stream.name}: standardisation is fitted on the training split only")
        return self.moments.transform()

    def with_transform(self, transform: Standardize | None, targets: Any = None) -> StreamPart:
        """The same part, its inputs (and with ``targets``, a TargetScaling, its ``y``) transformed as read."""
        held = self.targets
        if targets is not None and "y" in held:
            held = {**held, "y": targets.apply_arrays(held["y"])}
        return StreamPart(self.stream, self.name, self.code, self.fractions, self.seed, self.chunk_counts,
                          held, self.moments, transform, targets)

    def loader(self, device, names: tuple[str, ...]):
        """Batches of arrays ``names`` on ``device``, read from disk in background threads."""
        from quanta.data.stream.loader import StreamLoader

        return StreamLoader(self, device, names)

    def in_chunks(self):
        """The part as in-memory Datasets, chunk by chunk, in the part's order (read ahead in threads)."""
        from quanta.data.dataset import Dataset

        for arrays in prefetched(self.chunks, self.read, self.stream.settings.workers, self.stream.settings.depth):
            yield Dataset(arrays)

    def read(self, chunk: Chunk) -> Arrays:
        """This part's rows of ``chunk``."""
        return self.stream.chunk_arrays(chunk, self.code, self.fractions, self.seed, self.transform,
                                        self.target_transform)
