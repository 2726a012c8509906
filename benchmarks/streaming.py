"""Data delivery from many shards: quanta streaming vs a per-sample DataLoader vs in memory.

Writes (once, into --dir) 32 HDF5 shards and the same rows as 32 Parquet
shards: --rows rows of 30 float32 features, a label, and a jagged particle
collection (pt, eta, phi; Parquet list columns, HDF5 padded 2-D arrays).
Then, each in a fresh process so that peak memory is its own, one epoch of
the training split is delivered to a training loop that takes an Adam step of
a 30-128-128-1 MLP per batch (``--consume touch`` only reads the batch):

  (a) quanta streaming from the HDF5 and from the Parquet shards, with a
      memory budget (--memory) smaller than the data;
  (b) the common naive approach: an h5py Dataset whose __getitem__ reads one
      row, under DataLoader(num_workers=2, shuffle=True) (timed for --seconds);
  (c) quanta in memory (the files source read whole, index-gather batches).

And the jagged collection (30 particles x 3, padded with a mask) streamed
from Parquet vs read into memory. Prints samples/s, ratios (a)/(b) and
(a)/(c), and each process's peak resident memory above its start.

    python benchmarks/streaming.py [--rows 2000000] [--memory 300MB] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARDS, FEATURES, PARTICLES = 32, 30, 30


def write_shards(folder: Path, rows: int, seed: int = 0) -> None:
    """32 HDF5 and 32 Parquet shards with the same rows (skipped when present)."""
    import awkward as ak
    import h5py
    import pyarrow as pa
    import pyarrow.parquet as pq

    marker = folder / f"done-{rows}"
    if marker.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per = rows // SHARDS
    direction = rng.normal(size=FEATURES).astype(np.float32)
    for shard in range(SHARDS):
        y = rng.integers(0, 2, per).astype(np.int8)
        x = rng.normal(size=(per, FEATURES)).astype(np.float32) + 0.15 * y[:, None] * direction
        counts = rng.integers(5, 45, per)
        total = int(counts.sum())
        particles = {"part_pt": rng.exponential(20.0, total).astype(np.float32),
                     "part_eta": rng.normal(0, 0.4, total).astype(np.float32),
                     "part_phi": rng.normal(0, 0.4, total).astype(np.float32)}
        with h5py.File(folder / f"shard{shard:02d}.h5", "w") as handle:
            group = handle.create_group("events")
            for k in range(FEATURES):
                group.create_dataset(f"f{k:02d}", data=x[:, k])
            group.create_dataset("label", data=y)
            for name, flat in particles.items():
                padded = ak.to_numpy(ak.fill_none(ak.pad_none(ak.unflatten(flat, counts), PARTICLES, clip=True), 0))
                group.create_dataset(name, data=padded.astype(np.float32))
        table = {f"f{k:02d}": x[:, k] for k in range(FEATURES)}
        table["label"] = y
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        for name, flat in particles.items():
            table[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
        pq.write_table(pa.table(table), folder / f"shard{shard:02d}.parquet", row_group_size=16384)
    marker.write_text("ok")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


class Consumer:
    """What the training loop does with each batch: an MLP Adam step, or only reading it."""

    def __init__(self, mode: str, features: int):
        import torch

        self.mode = mode
        self.model = torch.nn.Sequential(torch.nn.Linear(features, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                                         torch.nn.ReLU(), torch.nn.Linear(128, 1))
        self.optimizer = torch.optim.Adam(self.model.parameters(), 1e-3)
        self.total = torch.zeros(())

    def __call__(self, x, y) -> None:
        import torch.nn.functional as F

        x = x.reshape(len(x), -1)
        if self.mode == "touch":
            self.total += x[:, 0].sum()
            return
        loss = F.binary_cross_entropy_with_logits(self.model(x).squeeze(-1), y.float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def run_mode(args: argparse.Namespace) -> dict:
    """One measurement, in this process."""
    import torch

    torch.set_num_threads(args.threads)
    import awkward  # noqa: F401  the readers' libraries are loaded before the baseline: code is not data
    import h5py  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from quanta.data.batching import DeviceData
    from quanta.data.files import files
    from quanta.data.stream.loader import StreamLoader

    folder = Path(args.dir)
    jagged = args.mode.endswith("jagged")
    suffix = "parquet" if "parquet" in args.mode else "h5"
    source = {"paths": [str(folder / f"*.{suffix}")], "label": "label"}
    source.update({"collection": ["part_pt", "part_eta", "part_phi"], "pad_length": PARTICLES,
                   "sort_by": "part_pt"} if jagged else {"features": ["f*"]})
    features = PARTICLES * 3 if jagged else FEATURES
    consume = Consumer(args.consume, features)
    consume(torch.zeros(args.batch, features), torch.zeros(args.batch))  # allocator, autograd and Adam set up
    start_mb = peak_mb()
    if args.mode.startswith("naive"):
        return naive(folder, args, consume, start_mb)
    streaming = "always" if args.mode.startswith("stream") else "never"
    t0 = time.perf_counter()
    data = files(**source, streaming=streaming, memory=args.memory, workers=args.workers)
    if streaming == "always":
        parts = data.split([0.8, 0.1, 0.1], seed=1)
        train = parts["train"].with_transform(parts["train"].standardize())
        loader = StreamLoader(train, "cpu", ("x", "y", "mask") if jagged else ("x", "y"))
    else:
        from quanta.data.split import split
        from quanta.data.transforms import Standardize

        train = split(data, [0.8, 0.1, 0.1], seed=1)["train"]
        train = Standardize().fit(train).apply(train)
        loader = DeviceData(train, "cpu", ("x", "y", "mask") if jagged else ("x", "y"))
    prepare = time.perf_counter() - t0
    generator = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    seen = 0
    for batch in loader.batches(args.batch, generator):
        consume(batch["x"], batch["y"])
        seen += len(batch["x"])
    seconds = time.perf_counter() - t0
    return {"mode": args.mode, "samples": seen, "seconds": seconds, "rate": seen / seconds,
            "prepare_seconds": prepare, "peak_mb": peak_mb() - start_mb}


def naive(folder: Path, args: argparse.Namespace, consume: Consumer, start_mb: float) -> dict:
    """The per-sample h5py Dataset under DataLoader(num_workers=2, shuffle=True)."""
    import h5py
    import torch
    from torch.utils.data import ConcatDataset, DataLoader, Dataset

    class Rows(Dataset):
        def __init__(self, path: Path):
            self.path, self.handle = path, None
            with h5py.File(path, "r") as handle:
                self.length = len(handle["events/label"])

        def __len__(self) -> int:
            return self.length

        def __getitem__(self, index: int):
            if self.handle is None:  # opened once per worker process
                self.handle = h5py.File(self.path, "r")
            group = self.handle["events"]
            x = np.array([group[f"f{k:02d}"][index] for k in range(FEATURES)], dtype=np.float32)
            return torch.from_numpy(x), torch.tensor(float(group["label"][index]))

    data = ConcatDataset([Rows(path) for path in sorted(folder.glob("*.h5"))])
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(1), persistent_workers=False)
    t0 = time.perf_counter()
    seen = 0
    for x, y in loader:
        consume(x, y)
        seen += len(x)
        if time.perf_counter() - t0 > args.seconds:
            break
    seconds = time.perf_counter() - t0
    return {"mode": args.mode, "samples": seen, "seconds": seconds, "rate": seen / seconds, "peak_mb": peak_mb() - start_mb}


MODES = ("stream-h5", "stream-parquet", "naive-h5", "memory-h5", "stream-parquet-jagged", "memory-parquet-jagged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dir", default="/tmp/quanta-streaming-bench")
    parser.add_argument("--memory", default="300MB", help="the streaming memory budget")
    parser.add_argument("--workers", type=int, default=2, help="quanta's background reading threads")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the training loop")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit of the naive loader")
    parser.add_argument("--consume", choices=("mlp", "touch"), default="mlp")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset to run")
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args)))
        return
    folder = Path(args.dir)
    t0 = time.perf_counter()
    write_shards(folder, args.rows)
    size = sum(p.stat().st_size for p in folder.glob("*.h5")) / 1e6
    print(f"{SHARDS} HDF5 + {SHARDS} Parquet shards, {args.rows:,} rows, {size:,.0f} MB of HDF5 "
          f"(ready in {time.perf_counter() - t0:.0f} s); budget {args.memory}, batch {args.batch}, "
          f"{args.threads} torch threads, consumer: {args.consume}")
    results = {}
    for mode in args.modes.split(","):
        command = [sys.executable, __file__, "--mode", mode, *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{mode}: failed\n{done.stderr[-2000:]}")
            continue
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[mode]
        print(f"  {mode:24s} {r['rate']:>12,.0f} samples/s  peak +{r['peak_mb']:,.0f} MB"
              + (f"  (prepare {r['prepare_seconds']:.1f} s)" if "prepare_seconds" in r else ""))

    def ratio(a: str, b: str) -> str:
        return f"{results[a]['rate'] / results[b]['rate']:.2f}x" if a in results and b in results else "n/a"

    print("ratios:")
    print(f"  stream-h5 / naive-h5                      {ratio('stream-h5', 'naive-h5')}   (target >= 20x)")
    print(f"  stream-parquet / naive-h5                 {ratio('stream-parquet', 'naive-h5')}")
    print(f"  stream-h5 / memory-h5                     {ratio('stream-h5', 'memory-h5')}   (target >= 0.5x)")
    print(f"  stream-parquet / memory-h5                {ratio('stream-parquet', 'memory-h5')}")
    print(f"  stream-parquet-jagged / memory-jagged     {ratio('stream-parquet-jagged', 'memory-parquet-jagged')}")


if __name__ == "__main__":
    main()
