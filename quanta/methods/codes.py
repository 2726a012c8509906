"""Learned latent codes as a method's inputs: ``codes_from`` an earlier network of the run.

A clustering or dimensionality-reduction method (``kmeans``,
``gaussian_mixture``, ``pca``) may read, instead of the raw inputs, the codes
``encode(x)`` of an earlier entry of its experiment: a network whose model
encodes its inputs (an autoencoder). ``codes_from`` may also be the folder of
such a network in another run directory (``runs/ae/<time>/ae``: an
autoencoder trained under ``task: autoencoding`` or ``embedding``, whose codes
a clustering run reads; a clustering task trains no networks itself). The network is loaded from its folder beside the method's own,
as an ensemble loads its members (:mod:`quanta.ensemble`), so the method is
fitted after it and ``quanta predict`` scores new data through both. The
network's own input standardisation is applied first; the codes then pass
through the method's own scaler, if it has one.

:class:`CodesInput` is the mix-in that does it for a
:class:`quanta.methods.sklearn.ScikitLearnMethod`; its subclass declares the
keyword ``codes_from: CodesFrom = None`` and sets ``self.codes_from``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.errors import UserError

#: the type hint of a method's ``codes_from`` parameter
CodesFrom = Annotated[str | None, Field(description="the name of an earlier network entry whose "
                                                    "model has encode(x), or the folder of one in "
                                                    "another run")]


def _other_run(name: str) -> tuple[Path, str] | None:
    """``(run directory, method)`` when ``codes_from`` names a folder of another run, else None."""
    if "/" not in name and "\\" not in name:
        return None
    folder = Path(name).expanduser()
    return folder.parent, folder.name


def check_codes_from(name: str | None, where: str, entry: dict[str, Any],
                     earlier: list[dict[str, Any]]) -> None:
    """Refuse a ``codes_from`` that is not an earlier network entry whose model has ``encode``."""
    if name is None:
        return
    if (other := _other_run(name)) is not None:
        if not (other[0] / "config.yaml").is_file() or not (other[0] / other[1]).is_dir():
            raise UserError(f"{where}.codes_from: {name} is not the folder of a method in a quanta run "
                            "directory (RUN_DIR/<method>, beside the run's config.yaml)")
        return  # loaded, and checked to encode, when the method is fitted
    entries = {e["name"]: e for e in earlier}
    networks = [n for n, e in entries.items() if e.get("model") is not None]
    if name == entry["name"]:
        raise UserError(f"{where}.codes_from: '{name}' is this entry itself; name an earlier "
                        "network whose model has encode(x)")
    if name not in entries:
        raise UserError(f"{where}.codes_from: '{name}' is not an earlier entry of methods; "
                        f"allowed: {', '.join(networks) or 'none (no network comes before it)'}")
    source = entries[name]
    if source.get("model") is None:
        raise UserError(f"{where}.codes_from: '{name}' is method '{source.get('method')}', not a "
                        "network; codes come from a network whose model has encode(x)")
    if (source.get("data") or {}) != (entry.get("data") or {}):
        raise UserError(f"{where}.codes_from: '{name}' reads other inputs than this entry (its "
                        "own data:); both must read the same inputs")
    from quanta.config import MODULE
    from quanta.models import MODELS

    if source["model"] != MODULE and not callable(getattr(MODELS.get(source["model"]), "encode",
                                                          None)):
        raise UserError(f"{where}.codes_from: model '{source['model']}' of '{name}' has no "
                        "encode(x); name a network that encodes its inputs (an autoencoder)")


def load_encoder(run_path: Path, name: str, label: str) -> Any:
    """The finished network ``name`` of the run directory at ``run_path``, checked to encode."""
    from quanta import estimators
    from quanta.rundir import RunDirectory

    run = RunDirectory.open(run_path)
    entries = {entry["name"]: entry for entry in run.read_config().get("methods", [])}
    folder = run.method(name)
    if name not in entries or not folder.finished:
        raise UserError(f"{folder.path}: '{name}', whose codes {label} reads, has not finished "
                        "training")
    network = estimators.load(entries[name], folder.path)
    if not callable(getattr(getattr(network, "model", None), "encode", None)):
        raise UserError(f"{label}.codes_from: '{name}' is not a network whose model has encode(x)")
    return network


def encoded(network: Any, data: Any, batch_size: int = 8192) -> np.ndarray:
    """The codes ``[N, k]`` of ``data``'s inputs ``x``: standardised as the network was, encoded."""
    import torch

    x = data.with_transform(network.transform).x if network.transform is not None else data.x
    model = network.model.to(network.device).eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(np.ascontiguousarray(x[start:start + batch_size]),
                                    dtype=torch.float32, device=network.device)
            chunks.append(model.encode(batch).float().reshape(len(batch), -1).cpu().numpy())
    width = chunks[0].shape[1] if chunks else 0
    return np.concatenate(chunks) if chunks else np.zeros((0, width), np.float32)


class CodesInput:
    """Mix-in of a scikit-learn method that may read an earlier network's codes (``codes_from``).

    Put it before :class:`~quanta.methods.sklearn.ScikitLearnMethod` among the bases.
    """

    codes_from: str | None = None

    @classmethod
    def check_entry(cls, params: dict[str, Any], where: str, entry: dict[str, Any],
                    earlier: list[dict[str, Any]]) -> None:
        check_codes_from(params.get("codes_from"), where, entry, earlier)

    def fit(self, train: Any, valid: Any, task: Any, **context: Any) -> Any:
        """Load the encoding network from the run directory (with ``codes_from``), then fit."""
        if self.codes_from is not None:
            directory = context.get("directory")
            if directory is None:
                raise UserError(f"{self.label()}: codes_from reads network '{self.codes_from}' "
                                "from the run directory; give one")
            self.encoder_ = _encoder_of(self.codes_from, Path(directory).parent, self.label())
        return super().fit(train, valid, task, **context)

    def _table(self, data: Any) -> np.ndarray:
        if self.codes_from is None:
            return super()._table(data)
        return encoded(self.encoder_, data)

    def column_names(self, data: Any) -> list[str] | None:
        if self.codes_from is None:
            return super().column_names(data)
        return None

    @classmethod
    def load(cls, directory: str | Path) -> Any:
        method = super().load(directory)
        if method.codes_from is not None:
            method.encoder_ = _encoder_of(method.codes_from, Path(directory).parent, cls.label())
        return method


def _encoder_of(codes_from: str, run_path: Path, label: str) -> Any:
    """The encoding network ``codes_from`` names: an entry of the run at ``run_path``, or another run's."""
    other = _other_run(codes_from)
    return load_encoder(*(other or (run_path, codes_from)), label)


__all__ = ["CodesFrom", "CodesInput", "check_codes_from", "encoded", "load_encoder"]
