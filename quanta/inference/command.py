"""``quanta fit-curve FILE``: an MCMC fit of a curve file, written to a folder.

The folder gets ``posterior.npz`` (the chain, its log posterior and the data
fitted), ``summary.json`` (per parameter the median, 16/84 % and 2.5/97.5 %
quantiles, the autocorrelation time and effective sample size; the
acceptance fraction and whether the chain is long enough), ``corner.png``
and ``band.png``. A folder that already holds a fit is never overwritten.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from quanta.errors import UserError
from quanta.inference.curve import read_curve
from quanta.inference.mcmc import Posterior, fit_curve

OUTPUTS = ("posterior.npz", "summary.json", "corner.png", "band.png")


def fit_curve_file(path: str | Path, model: str = "sphere", *, walkers: int = 32, steps: int = 3000,
                   burn: int | None = None, seed: int = 1, dq_over_q: float = 0.0,
                   out: str | Path | None = None) -> tuple[Path, Posterior]:
    """Fit the curve in ``path`` and write the outputs to ``out`` (default ``<stem>-<model>-fit``)."""
    folder = Path(out) if out is not None else Path(f"{Path(path).stem}-{model}-fit")
    _check_folder(folder)
    curve = read_curve(path)
    with warnings.catch_warnings():  # the caller reports a short chain from the posterior itself
        warnings.simplefilter("ignore", UserWarning)
        posterior = fit_curve(curve.q, curve.intensity, curve.sigma, model, walkers=walkers, steps=steps,
                              burn=burn, seed=seed, dq_over_q=dq_over_q)
    write_outputs(posterior, folder, source=str(path))
    return folder, posterior


def write_outputs(posterior: Posterior, folder: Path, source: str | None = None) -> None:
    """Write the four outputs of a fit into ``folder`` (created if needed; each file atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = io.BytesIO()
    np.savez_compressed(arrays, chain=posterior.chain, log_probability=posterior.log_probability,
                        samples=posterior.samples, names=np.array(posterior.names), units=np.array(posterior.units),
                        burn=np.array(posterior.burn), acceptance=posterior.acceptance, tau=posterior.tau,
                        q=posterior.q, intensity=posterior.intensity, sigma=posterior.sigma)
    summary = {"file": source, **posterior.summary()}
    _write(folder / "posterior.npz", arrays.getvalue())
    _write(folder / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    from quanta.inference.figures import band_figure, corner_figure

    for name, figure in (("corner.png", corner_figure(posterior)), ("band.png", band_figure(posterior))):
        image = io.BytesIO()
        figure.savefig(image, format="png", dpi=110)
        _write(folder / name, image.getvalue())


def parameter_table(posterior: Posterior) -> str:
    """A short text table: each parameter's median and 68 % / 95 % intervals, tau and effective samples."""
    low68, high68 = posterior.interval(0.68)
    low95, high95 = posterior.interval(0.95)
    median = posterior.median()
    width = max(len(name) for name in posterior.names)
    lines = [f"{'parameter'.ljust(width)}  {'median':>10}  {'68 % interval':>23}  {'95 % interval':>23}  "
             f"{'tau':>6}  {'ESS':>7}  unit"]
    for i, name in enumerate(posterior.names):
        lines.append(f"{name.ljust(width)}  {median[i]:10.5g}  [{low68[i]:10.5g}, {high68[i]:10.5g}]  "
                     f"[{low95[i]:10.5g}, {high95[i]:10.5g}]  {posterior.tau[i]:6.1f}  "
                     f"{posterior.effective_samples[i]:7.0f}  {posterior.units[i]}")
    lines.append(f"acceptance fraction {np.mean(posterior.acceptance):.2f}; {posterior.chain.shape[1]} walkers x "
                 f"{posterior.chain.shape[0]} steps, {posterior.burn} burn-in")
    return "\n".join(lines)


def _check_folder(folder: Path) -> None:
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise UserError(f"--out: {parent} is a file, not a folder")
    taken = [name for name in OUTPUTS if (folder / name).exists()]
    if taken:
        raise UserError(f"--out: {folder} already holds a fit ({taken[0]}); choose another folder")


def _write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # like any file the user writes (mkstemp gives 0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
