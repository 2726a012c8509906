"""Data-parallel scaling of quanta run under torchrun: the MLP (30 -> 128 -> 128 -> 1) of
train_throughput.py on 200,000 in-memory samples, one and two ranks.

Side by side, for each number of ranks N, with the same model, optimiser (Adam), data and
global batch (each rank steps on its 1/N slice of every batch):

  (a) quanta:  torchrun --standalone --nproc-per-node N -m quanta run ddp.yaml --run-dir DIR
  (b) plain:   a PyTorch DistributedDataParallel loop with index-gather batching, started by
               torchrun from this script (the floor that gloo or NCCL sets)

with OMP_NUM_THREADS = cores / N on a CPU (each rank one share of the cores, gloo between
them) or one GPU per rank with --device cuda (NCCL). quanta's rate is read from the run's
history.jsonl (samples_per_second: the training split over the epoch's training time); both
are the median of epochs 2..E. Scaling efficiency = rate(2 ranks) / (2 x rate(1 rank)), the
single rank holding one share of the machine (1 thread of 2 cores, one GPU); the line
"1 rank, all cores" is what one process gets from every core through intra-op threads. Usage:

    python benchmarks/ddp_scaling.py [--samples 200000] [--epochs 4] [--batches 4096 256]
    python benchmarks/ddp_scaling.py --device cuda     # needs two GPUs for the 2-rank line
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from events import FEATURES, make_data, write_data  # benchmarks/events.py

HIDDEN = (128, 128)
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]


def write_experiment(
    path: Path, data: Path, names: list[str], batch: int, epochs: int, device: str
) -> None:
    """One network trained on every sample (no validation, nothing ranked): training is timed."""
    experiment = {
        "name": "ddp",
        "task": "binary",
        "device": device,
        "data": {
            "source": "files",
            "paths": [str(data)],
            "features": names,
            "label": "label",
            "split": [1.0, 0.0, 0.0],
        },
        "methods": [
            {
                "name": "mlp",
                "model": "mlp",
                "params": {"hidden": list(HIDDEN)},
                "train": {
                    "epochs": epochs,
                    "batch_size": batch,
                    "lr": 1e-3,
                    "patience": 0,
                    "precision": "fp32",
                    "progress": False,
                },
            }
        ],
        "importance": {"repeats": 0},
    }
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))


def quanta_command(ranks: int, experiment: Path, run_dir: Path) -> list[str]:
    return [
        *TORCHRUN,
        f"--nproc-per-node={ranks}",
        "-m",
        "quanta",
        "run",
        str(experiment),
        "--run-dir",
        str(run_dir),
    ]


def plain_command(ranks: int, args: argparse.Namespace, batch: int) -> list[str]:
    return [
        *TORCHRUN,
        f"--nproc-per-node={ranks}",
        __file__,
        "--plain-worker",
        "--samples",
        str(args.samples),
        "--epochs",
        str(args.epochs),
        "--batches",
        str(batch),
        "--device",
        args.device,
    ]


def run(command: list[str], threads: int) -> tuple[str, float]:
    """The command's standard output and wall seconds; its standard error if it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        command, env={**os.environ, "OMP_NUM_THREADS": str(threads)}, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout, time.perf_counter() - start


def quanta_rate(ranks: int, threads: int, experiment: Path, folder: Path) -> tuple[float, float]:
    """(median training samples/s of epochs 2..E of quanta run, wall seconds of the command)."""
    run_dir = folder / f"run-{ranks}x{threads}"
    shutil.rmtree(run_dir, ignore_errors=True)
    _, wall = run(quanta_command(ranks, experiment, run_dir), threads)
    lines = (run_dir / "mlp" / "history.jsonl").read_text().splitlines()
    rates = [json.loads(line)["samples_per_second"] for line in lines]
    return statistics.median(rates[1:] or rates), wall


def plain_worker(samples: int, epochs: int, batch: int, device_name: str) -> None:
    """One rank of the plain DDP loop (under torchrun); rank 0 prints the epochs' rates as JSON."""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel

    from quanta.models.mlp import MLP

    cuda = device_name.startswith("cuda")
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}" if cuda else "cpu")
    x, y = make_data(samples)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).float().to(device)
    torch.manual_seed(0)
    model = DistributedDataParallel(
        MLP(FEATURES, 1, hidden=HIDDEN).to(device), device_ids=[device.index] if cuda else None
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates = []
    for epoch in range(epochs):
        order = torch.randperm(samples, generator=torch.Generator().manual_seed(epoch)).to(device)
        start = time.perf_counter()
        for first in range(0, samples, batch):
            index = order[first : first + batch]
            mine = index[rank * len(index) // size : (rank + 1) * len(index) // size]
            loss = F.binary_cross_entropy_with_logits(model(xt[mine]).reshape(-1), yt[mine])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        rates.append(samples / (time.perf_counter() - start))
    if rank == 0:
        print(json.dumps(rates))
    dist.destroy_process_group()


def plain_rate(ranks: int, threads: int, args: argparse.Namespace, batch: int) -> float:
    output, _ = run(plain_command(ranks, args, batch), threads)
    rates = json.loads(output.strip().splitlines()[-1])
    return statistics.median(rates[1:] or rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batches", type=int, nargs="+", default=[4096, 256])
    parser.add_argument(
        "--cores", type=int, default=os.cpu_count() or 1, help="CPU cores shared by the ranks"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per rank)")
    parser.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker:
        plain_worker(args.samples, args.epochs, args.batches[0], args.device)
        return
    import torch

    if args.device.startswith("cuda"):
        gpus = torch.cuda.device_count()
        if gpus < 1:
            sys.exit("--device cuda: no GPU visible")
        where = f"{gpus} x {torch.cuda.get_device_name()}, NCCL"
        configurations = [("1 rank", 1, 1), ("2 ranks", 2, 1)][: min(gpus, 2)]
    else:
        where = f"{args.cores} CPU cores, gloo"
        share = max(args.cores // 2, 1)
        configurations = [
            ("1 rank, all cores", 1, args.cores),
            ("1 rank", 1, share),
            ("2 ranks", 2, share),
        ]
    print(
        f"MLP {FEATURES}-{'-'.join(map(str, HIDDEN))}-1, Adam, {args.samples:,} samples, "
        f"{where}, torch {torch.__version__}, median of epochs 2..{args.epochs}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        names = write_data(folder / "events.npz", args.samples)
        for batch in args.batches:
            experiment = folder / f"ddp-{batch}.yaml"
            write_experiment(
                experiment, folder / "events.npz", names, batch, args.epochs, args.device
            )
            shown = " ".join(quanta_command(2, experiment, Path("DIR"))[4:])
            print(
                f"\nbatch {batch} (global; each of N ranks steps on batch/N rows)\n"
                f"  command: OMP_NUM_THREADS=T torchrun --standalone {shown}"
            )
            print(
                f"  {'':20s} {'ranks x threads':>16s} {'(a) quanta':>14s} {'(b) plain DDP':>14s}"
                f"  (a)/(b)"
            )
            rates = {}
            for label, ranks, threads in configurations:
                rate, wall = quanta_rate(ranks, threads, experiment, folder)
                plain = plain_rate(ranks, threads, args, batch)
                rates[label] = (rate, plain)
                print(
                    f"  {label:20s} {f'{ranks} x {threads}':>16s} {rate:14,.0f} {plain:14,.0f}"
                    f"  {rate / plain:6.2f}   samples/s (quanta command {wall:5.1f} s)"
                )
            if "2 ranks" in rates:
                (two, two_plain), (one, one_plain) = rates["2 ranks"], rates["1 rank"]
                print(
                    f"  scaling efficiency rate(2 ranks) / (2 x rate(1 rank)):  (a) "
                    f"{two / (2 * one):.2f}   (b) {two_plain / (2 * one_plain):.2f}"
                )


if __name__ == "__main__":
    main()
