"""Run directories: created fresh (never overwriting), described, recognised."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from quanta.errors import UserError

RUN_MARKERS = ("config.yaml", "environment.json")
PACKAGES = ("quanta", "torch", "numpy", "scikit-learn", "xgboost-cpu", "pythia8mc", "fastjet", "safetensors")


def create_run_directory(parent: Path) -> Path:
    """A new, empty ``parent/<timestamp>`` folder; a clash gets a numbered suffix."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = parent / (stamp if attempt == 0 else f"{stamp}-{attempt + 1}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise UserError(f"{parent}: could not create a new run directory")


def require_run_directory(path: str | Path) -> Path:
    """``path`` if it is a quanta run directory, else a one-line error."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory")
    missing = [name for name in RUN_MARKERS if not (path / name).exists()]
    if missing:
        raise UserError(f"{path}: not a quanta run directory (missing {', '.join(missing)})")
    return path


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment(seed: int, device: str) -> dict[str, Any]:
    """Versions, device, seed and time of a run (``environment.json``)."""
    import torch

    resolved = device
    if device == "auto":
        resolved = "cuda" if torch.cuda.is_available() else "cpu"
    info: dict[str, Any] = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": resolved,
        "seed": seed,
    }
    if resolved.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(resolved))
    for package in PACKAGES:
        info[package] = _version(package)
    info["git_commit"] = _git_commit()
    return info
