"""On-disk cache of generated data, keyed by the parameters that produced it.

Simulated data sets are expensive; the second run with the same parameters
reads them back at once. Files are ``.npz`` written atomically (temporary file,
then rename) and read with ``allow_pickle=False``. The cache lives in
``$QUANTA_CACHE`` if set, else ``~/.cache/quanta``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VARIABLE = "QUANTA_CACHE"


def cache_dir() -> Path:
    """The cache folder (``$QUANTA_CACHE`` or ``~/.cache/quanta``)."""
    root = os.environ.get(CACHE_VARIABLE)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "quanta"


def cache_key(name: str, params: dict[str, Any]) -> str:
    """A stable file stem for ``name`` generated with ``params``."""
    blob = json.dumps(params, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def cached(
    name: str, params: dict[str, Any], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Arrays for ``(name, params)``: read from the cache, or built and stored."""
    path = cache_dir() / f"{cache_key(name, params)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, path)
        (path.with_suffix(".json")).write_text(json.dumps({"source": name, **params}, indent=1, default=str))
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return arrays
