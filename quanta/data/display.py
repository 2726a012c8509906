"""``quanta datasets show NAME``: a PNG of a few examples of a registered source.

By convention the module that defines a source also defines
``show(data) -> matplotlib Figure``; this module loads a small sample and saves
that figure.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from quanta.data import SOURCES
from quanta.errors import UserError


def show_source(name: str, out: str | Path | None = None, **params: Any) -> Path:
    """Load source ``name`` with ``params``, draw its examples, save a PNG; returns its path."""
    source = SOURCES.get(name)
    module = importlib.import_module(source.__module__)
    draw = getattr(module, "show", None)
    if draw is None:
        raise UserError(f"data source '{name}' has no show(data) function in {source.__module__}")
    data = SOURCES.create(name, where=f"data source '{name}'", **params)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw(data)
    suffix = "-".join(f"{k}_{v}" for k, v in sorted(params.items()) if k in ("view", "task", "target"))
    path = Path(out) if out else Path(f"{name}{'-' + suffix if suffix else ''}.png")
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
