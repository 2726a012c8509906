"""Training throughput of each architecture family: quanta.fit against a plain PyTorch loop.

For every family one registered model is trained on synthetic data of the
shape that family reads (feature table, image, sequence, set), with the same
model, optimiser (Adam), loss and batch size, in one run:

  plain  an index-gather PyTorch loop (the ceiling for in-memory data)
  quanta quanta.fit's training phase (read from its history)

and the ratio quanta / plain is printed (target >= 0.9). Usage:

    python benchmarks/zoo_throughput.py [--threads 2] [--samples 8192] [--epochs 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

import quanta
from quanta.data.dataset import Dataset
from quanta.models import MODELS

# family -> (model name, params, per-sample x shape, uses a mask)
FAMILIES = {
    "dense (mlp)": ("mlp", {"hidden": [128, 128]}, (30,), False),
    "convolutional (cnn)": ("cnn", {"channels": [16, 32], "hidden": [32]}, (1, 32, 32), False),
    "residual (resnet)": ("resnet", {"widths": [8, 16], "depths": 1, "stem_channels": 8}, (1, 32, 32), False),
    "recurrent (rnn, lstm)": ("rnn", {"cell": "lstm", "hidden": 64}, (20, 10), True),
    "attention (transformer)": ("transformer", {"dim": 32, "heads": 4, "layers": 2, "feedforward": 64}, (20, 10), True),
    "sets (deepsets)": ("deepsets", {}, (30, 7), True),
    "graphs (particlenet)": ("particlenet", {"k": 8, "channels": [[32, 32], [64, 64]], "head": [64]}, (30, 7), True),
}


def make_data(shape: tuple[int, ...], masked: bool, samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, *shape)).astype(np.float32)
    y = (x.reshape(samples, -1)[:, :4].sum(1) > 0).astype(np.int64)
    arrays = {"x": x, "y": y}
    if masked:
        lengths = rng.integers(shape[0] // 2, shape[0] + 1, size=samples)
        mask = np.arange(shape[0])[None, :] < lengths[:, None]
        arrays["x"] = x * mask[..., None]
        arrays["mask"] = mask
    return arrays


def build(name: str, params: dict, arrays: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    shapes = {key: tuple(value.shape[1:]) for key, value in arrays.items()}
    return MODELS.get(name).for_data(shapes, 1, **params)


def plain_loop(model: torch.nn.Module, arrays: dict, batch: int, epochs: int, device: torch.device) -> list[float]:
    model = model.to(device)
    inputs = tuple(getattr(model, "inputs", ("x",)))
    tensors = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    tensors["y"] = tensors["y"].float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(tensors["y"])
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n, device=device)
        for i in range(0, n, batch):
            index = perm[i:i + batch]
            out = model(*(tensors[k][index] for k in inputs))
            loss = F.binary_cross_entropy_with_logits(out.reshape(-1), tensors["y"][index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    return rates


def quanta_fit(name: str, params: dict, arrays: dict, batch: int, epochs: int, device: str) -> list[float]:
    data = Dataset(dict(arrays), name="synthetic")
    with tempfile.TemporaryDirectory() as out:
        torch.manual_seed(0)
        run = quanta.fit(name, data, task="binary", params=params, epochs=epochs, batch_size=batch, lr=1e-3,
                         patience=0, out=out, verbose=False, device=device, precision="fp32",
                         split=(1.0, 0.0, 0.0), standardize=False)
        return [record["samples_per_second"] for record in run.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"{args.samples:,} samples, batch {args.batch}, Adam, fp32, {args.device} "
          f"({args.threads} threads), torch {torch.__version__}; median samples/s of epochs 2..{args.epochs}")
    print(f"  {'family':28s} {'plain':>12s} {'quanta':>12s} {'ratio':>7s}")
    for family, (name, params, shape, masked) in FAMILIES.items():
        arrays = make_data(shape, masked, args.samples)
        plain = statistics.median(plain_loop(build(name, params, arrays), arrays, args.batch, args.epochs,
                                             device)[1:])
        ours = statistics.median(quanta_fit(name, params, arrays, args.batch, args.epochs, args.device)[1:])
        print(f"  {family:28s} {plain:12,.0f} {ours:12,.0f} {ours / plain:7.2f}")


if __name__ == "__main__":
    main()
