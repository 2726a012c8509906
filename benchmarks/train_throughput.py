"""Training throughput of an MLP (30 -> 128 -> 128 -> 1) on in-memory data.

Side by side, in one run, with the same model, optimiser (Adam) and data:

  (a) the idiomatic PyTorch loop over DataLoader(TensorDataset, shuffle=True)
  (b) a plain PyTorch loop with index-gather batching (tensor[perm[i:i+b]])
  (c) quanta.fit (its training phase, read from history.jsonl)
  (d) the ceiling: forward, backward and step on one resident batch, no data movement at all,
      with PyTorch's fused Adam kernel (what the hardware allows; quanta uses it too, while
      (a) and (b) use Adam's default, as a user's own loop does)

The runners take turns: each round runs every runner for ``--epochs`` epochs
(the first is warm-up and dropped), so that a slow spell of a shared machine
falls on all of them alike. Prints training samples/s (median over rounds) and
each runner's ratio to (b) (the median of the per-round ratios, with their
lowest and highest). Usage:

    python benchmarks/train_throughput.py [--threads 2] [--samples 200000] [--rounds 5]
    python benchmarks/train_throughput.py --device cuda --precision bf16 --compile

On a GPU the plain loops hold the data on the device too, and use the same
precision (bf16 autocast) as quanta; --compile applies torch.compile to all
but the DataLoader loop.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from events import FEATURES, make_data  # benchmarks/events.py
from torch.utils.data import DataLoader, TensorDataset

import quanta
from quanta.models.mlp import MLP

HIDDEN = (128, 128)


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MLP(FEATURES, 1, hidden=HIDDEN)


SETTINGS = {"device": torch.device("cpu"), "bf16": False, "compile": False}


def prepared(net: torch.nn.Module) -> torch.nn.Module:
    net = net.to(SETTINGS["device"])
    return torch.compile(net) if SETTINGS["compile"] else net


def precision():
    if not SETTINGS["bf16"]:
        return contextlib.nullcontext()
    return torch.autocast(SETTINGS["device"].type, dtype=torch.bfloat16)


def synchronize() -> None:
    if SETTINGS["device"].type == "cuda":
        torch.cuda.synchronize()


def step(net, optimizer, xb, yb) -> torch.Tensor:
    with precision():
        logits = net(xb)
    loss = F.binary_cross_entropy_with_logits(logits.reshape(-1).float(), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def dataloader_loop(x, y, batch: int, epochs: int) -> list[float]:
    net = model().to(SETTINGS["device"])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    device = SETTINGS["device"]
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y).float()),
                        batch_size=batch, shuffle=True)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in loader:
            step(net, optimizer, xb.to(device), yb.to(device))
        synchronize()
        rates.append(len(x) / (time.perf_counter() - start))
    return rates


def index_gather_loop(x, y, batch: int, epochs: int) -> list[float]:
    net = prepared(model())
    device = SETTINGS["device"]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, **({"fused": True} if device.type == "cuda" else {}))
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).float().to(device)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(xt), device=device)
        for i in range(0, len(xt), batch):
            index = perm[i:i + batch]
            step(net, optimizer, xt[index], yt[index])
        synchronize()
        rates.append(len(x) / (time.perf_counter() - start))
    return rates


def ceiling_loop(x, y, batch: int, epochs: int) -> list[float]:
    net = prepared(model())
    device = SETTINGS["device"]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    xb = torch.from_numpy(x[:batch]).to(device)
    yb = torch.from_numpy(y[:batch]).float().to(device)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(0, len(x), batch):
            step(net, optimizer, xb, yb)
        synchronize()
        rates.append(len(x) / (time.perf_counter() - start))
    return rates


def quanta_fit(x, y, batch: int, epochs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as out:
        torch.manual_seed(0)
        run = quanta.fit("mlp", (x, y), task="binary", params={"hidden": list(HIDDEN)}, epochs=epochs,
                         batch_size=batch, lr=1e-3, patience=0, out=out, verbose=False,
                         device=str(SETTINGS["device"]), precision="bf16" if SETTINGS["bf16"] else "fp32",
                         compile=SETTINGS["compile"], split=(1.0, 0.0, 0.0))
        return [record["samples_per_second"] for record in run.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per runner and round (the first is dropped)")
    parser.add_argument("--rounds", type=int, default=5, help="turns every runner takes")
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (not in the DataLoader loop)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    SETTINGS.update(device=torch.device(args.device), bf16=args.precision == "bf16", compile=args.compile)
    x, y = make_data(args.samples)
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{args.threads} CPU threads"
    print(f"MLP {FEATURES}-{'-'.join(map(str, HIDDEN))}-1, Adam, {args.samples:,} samples, {where}, "
          f"{args.precision}{', compiled' if args.compile else ''}, torch {torch.__version__}, "
          f"{args.rounds} rounds of {args.epochs} epochs per runner, the first epoch dropped")
    runners = {"(a) DataLoader(TensorDataset)": dataloader_loop,
               "(b) plain index-gather loop": index_gather_loop,
               "(c) quanta.fit": quanta_fit,
               "(d) ceiling: one resident batch": ceiling_loop}
    for batch in args.batches:
        rates: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, runner in runners.items():
                rates[name].append(statistics.median(runner(x, y, batch, args.epochs)[1:]))
        plain = rates["(b) plain index-gather loop"]
        print(f"\nbatch {batch}                                samples/s   ratio to (b): median (range)")
        for name, values in rates.items():
            ratios = [v / p for v, p in zip(values, plain, strict=True)]
            print(f"  {name:32s} {statistics.median(values):12,.0f}   {statistics.median(ratios):5.2f}x "
                  f"({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
