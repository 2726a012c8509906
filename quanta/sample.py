"""New samples from a run's generative method written to a file: ``quanta sample``.

A finished method that generates (a VAE, a GAN, ``independent_gaussians``)
draws ``n`` samples of the inputs ``x`` in the data's own units, with the
conditions asked for (``--condition energy=50``: one value for all, or
``energy=values.npy``: a ``.npy`` file of ``n`` values), and one file holds
them, laid out so that the ``files`` source reads it back:

- inputs with one axis (``x[n, F]``) become one column per feature, named
  as the run's data named them (``data.json``; ``x_0 ... x_{F-1}`` where
  the data had no names), so ``features:`` of the run reads them again;
  inputs with more axes (images ``[n, C, H, W]``) stay one array ``x`` of
  that shape (HDF5, NPZ, NPY, ROOT: a fixed-size branch);
- each condition is a column of its own, named as the data-set array it
  conditions on (``arrays: {energy: energy}`` reads it back).

The format is the suffix of ``out``: ``.h5``/``.hdf5`` (datasets at the
root), ``.npz``, ``.npy`` (``x`` alone, in its shape), ``.parquet``/``.pq``
(tables only), ``.root`` (a TTree named ``samples``). Without a suffix, a
run trained from files writes its input files' format. An existing file is
replaced only with ``force``, never one of the run's inputs or a file of the
run directory; the file is written to a temporary name and renamed into place
(:func:`quanta.data.files.writers.write_columns`, shared with ``quanta datasets generate``).
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quanta.data.files.writers import write_columns
from quanta.errors import UserError, first_line, unknown_name
from quanta.rundir import RunDirectory

SUFFIXES = {".h5": "hdf5", ".hdf5": "hdf5", ".npz": "npz", ".npy": "npy", ".parquet": "parquet",
            ".pq": "parquet", ".root": "root"}
FORMAT_SUFFIX = {"hdf5": ".h5", "npz": ".npz", "npy": ".npy", "parquet": ".parquet", "root": ".root"}
CONDITION_HELP = "NAME=VALUE (a number, or a .npy file of N values)"


@dataclass(frozen=True)
class Samples:
    """What :func:`sample_run` wrote: the file, the method, how many samples and the seconds drawing took."""

    path: Path
    method: str
    n: int
    seconds: float

    def summary(self) -> str:
        """The command's one line."""
        rate = self.n / max(self.seconds, 1e-9)
        return (f"{self.n:,} samples from {self.method} in {self.seconds:.2f} s ({rate:,.0f}/s): "
                f"{self.path}")


def sample_run(run_dir: str | Path, n: int, out: str | Path, method: str | None = None,
               condition: dict[str, Any] | None = None, seed: int = 0,
               force: bool = False) -> Samples:
    """Draw ``n`` samples from a generative method of a run and write them to ``out``.

    Args:
        run_dir: a run directory with a finished method that generates.
        n: the number of samples.
        out: the file; its suffix picks the format (see the module). Without one, a run
            trained from files writes its input files' format (the suffix is added).
        method: the method to sample from (default: the first finished one that generates).
        condition: ``{name: value}`` for a conditional method: a number, ``n`` numbers, or
            the path of a ``.npy`` file of ``n`` numbers.
        seed: the seed of the draws (the same seed gives the same samples).
        force: replace an existing ``out``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"sample: -n must be an integer >= 1, received {n!r}")
    n = int(n)
    run = RunDirectory.open(run_dir)
    raw = run.read_config()
    target, format = _output(run, raw, Path(out), force)
    values = {name: _condition_values(name, value, n) for name, value in (condition or {}).items()}
    entry, estimator = _generator(run, raw, method)
    name = entry["name"]
    _check_conditions(name, tuple(estimator.conditions), values)
    start = time.perf_counter()
    x = np.asarray(estimator.sample(n, values or None, seed))
    seconds = time.perf_counter() - start
    columns = _columns(x, _feature_names(run, entry, x), values, format, target)
    write_columns(target, format, columns, f"--out {target}")
    return Samples(target, name, n, seconds)


def parse_conditions(items: list[str]) -> dict[str, str]:
    """``--condition NAME=VALUE`` options as ``{name: value text}``, or a one-line error."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UserError(f"--condition: expected {CONDITION_HELP}, received {item!r}")
        if name in found:
            raise UserError(f"--condition {name}: given twice")
        found[name] = value
    return found


def _condition_values(name: str, value: Any, n: int) -> np.ndarray:
    """One condition as ``n`` float32 values: from a number, ``n`` numbers or a ``.npy`` file."""
    if isinstance(value, (str, Path)):
        text = str(value)
        try:
            value = float(text)
        except ValueError:
            value = _npy_values(name, Path(text), n)
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"--condition {name}: expected a number or {n} numbers, received "
                        f"{value!r}") from None
    if values.ndim == 0:
        values = np.full(n, float(values))
    if values.shape != (n,):
        raise UserError(f"--condition {name}: expected one value or {n} (one per sample), "
                        f"received shape {list(values.shape)}")
    if not np.all(np.isfinite(values)):
        raise UserError(f"--condition {name}: {int(np.sum(~np.isfinite(values)))} of the values "
                        "are not finite")
    return values.astype(np.float32)


def _npy_values(name: str, path: Path, n: int) -> np.ndarray:
    if path.suffix.lower() != ".npy":
        raise UserError(f"--condition {name}={path}: expected a number or a .npy file of {n} values")
    if not path.is_file():
        raise UserError(f"--condition {name}={path}: no such file")
    try:
        values = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises many types for a foreign file
        raise UserError(f"--condition {name}={path}: not a readable .npy file "
                        f"({first_line(error)})") from None
    if values.dtype.kind not in "biuf":
        raise UserError(f"--condition {name}={path}: holds {values.dtype}, not numbers")
    return values


def _generator(run: RunDirectory, raw: dict[str, Any], wanted: str | None) -> tuple[dict[str, Any], Any]:
    """The ``methods:`` entry and loaded estimator to sample from (``wanted``, or the first that generates)."""
    from quanta import estimators

    entries = {e["name"]: e for e in raw.get("methods") or [] if isinstance(e, dict) and "name" in e}
    if wanted is not None and wanted not in entries:
        raise unknown_name("method of this run", wanted, entries)
    loaded: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in loaded:
            loaded[name] = estimators.load(entries[name], run.method(name).path)
        return loaded[name]

    finished = [name for name in entries if run.method(name).finished]
    if wanted is not None and wanted not in finished:
        raise UserError(f"{run.path}: method '{wanted}' has not finished; nothing to sample "
                        "(resume the run with quanta run --resume)")
    for name in [wanted] if wanted is not None else finished:
        if getattr(load(name), "generates", False):
            return entries[name], loaded[name]
    generating = [name for name in finished if name != wanted and getattr(load(name), "generates", False)]
    listed = ", ".join(generating) or "none"
    if wanted is not None:
        raise UserError(f"method '{wanted}' does not generate samples; the methods of this run that "
                        f"do: {listed}")
    raise UserError(f"{run.path}: no finished method of this run generates samples (a vae, a gan, "
                    f"independent_gaussians); its methods: {', '.join(entries) or 'none'}")


def _check_conditions(method: str, names: tuple[str, ...], values: dict[str, np.ndarray]) -> None:
    """The conditions given are exactly the method's, or a one-line error naming the difference."""
    for name in values:
        if name not in names:
            what = f"its conditions: {', '.join(names)}" if names else "it is not conditional"
            raise UserError(f"--condition {name}: method '{method}' is not conditioned on {name}; {what}")
    missing = [name for name in names if name not in values]
    if missing:
        raise UserError(f"--condition: method '{method}' is conditioned on {', '.join(names)}; give "
                        f"--condition {missing[0]}={CONDITION_HELP.partition('=')[2]}")


# -- the output ------------------------------------------------------------------------------
def _output(run: RunDirectory, raw: dict[str, Any], out: Path, force: bool) -> tuple[Path, str]:
    """The file to write and its format, checked before any model is loaded."""
    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; give the file to write")
    own, patterns = _training_files(run, raw)
    suffix = out.suffix.lower()
    if not suffix and own is not None:
        if own not in FORMAT_SUFFIX:
            raise UserError(f"--out {out}: the run's input files are {own}, which quanta sample "
                            f"does not write; name the file with one of {', '.join(SUFFIXES)}")
        out, suffix = out.with_name(out.name + FORMAT_SUFFIX[own]), FORMAT_SUFFIX[own]
    if suffix not in SUFFIXES:
        also = "" if own is not None else " (a run trained from files may omit it: its files' format)"
        raise UserError(f"--out {out}: cannot tell the output format from the suffix '{suffix}'; use "
                        f"one of {', '.join(SUFFIXES)}{also}")
    resolved = out.resolve()
    if resolved in _inputs_of(run, patterns):
        raise UserError(f"--out {out}: is one of the run's input files; samples are written to a new file")
    if out.exists():
        if run.path.resolve() in resolved.parents:
            raise UserError(f"--out {out}: is a file of the run directory; write the samples elsewhere")
        if not force:
            raise UserError(f"--out {out}: exists; give --force to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out {out}: cannot be written ({error.strerror or type(error).__name__})") from None
    return out, SUFFIXES[suffix]


def _training_files(run: RunDirectory, raw: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The format and the paths (globs) of the files a run was trained from; ``(None, [])`` for none.

    A run of ``quanta run`` names them in ``config.yaml``; a run of ``quanta.fit``
    on a data set of the files source, in ``data.json``.
    """
    from quanta.data.files.readers import format_of
    from quanta.predict import file_reading

    reading = file_reading(run, raw)
    if reading is None:
        return None, []
    info = (run.read_data() or {}).get("info") or {}
    patterns = [str(p) for p in [*(reading.get("paths") or []), *(reading.get("classes") or {}).values()]]
    if not patterns and isinstance(info.get("paths"), list):
        patterns = [str(p) for p in info["paths"]]
    format = reading.get("format")
    if format in (None, "auto"):
        format = info.get("format") or (format_of(patterns[0]) if patterns else None)
    return (str(format) if format else None), patterns


def _inputs_of(run: RunDirectory, patterns: list[str]) -> set[Path]:
    """The run's training files (its globs expanded), resolved.

    A relative path was relative to where the run was started, which the run
    does not record: it is taken from here and from every folder above the run
    directory (``runs/<name>/<time>`` lies below it by default).
    """
    bases = [Path.cwd(), *run.path.resolve().parents]
    found = set()
    for pattern in patterns:
        for base in bases[:1] if Path(pattern).is_absolute() else bases:
            full = str(base / pattern)
            for path in glob.glob(full, recursive=True) if glob.has_magic(pattern) else [full]:
                found.add(Path(path).resolve())
    return found


def _feature_names(run: RunDirectory, entry: dict[str, Any], x: np.ndarray) -> list[str]:
    """The names of the columns of flat samples ``x[n, F]``: the run's feature names, else ``x_<i>``."""
    if x.ndim != 2:
        return []
    names = (run.read_data() or {}).get("feature_names") if not entry.get("data") else None
    if isinstance(names, list) and len(names) == x.shape[1] and len(set(map(str, names))) == len(names):
        return [str(name) for name in names]
    return [f"x_{i}" for i in range(x.shape[1])]


def _columns(x: np.ndarray, names: list[str], conditions: dict[str, np.ndarray], format: str,
             target: Path) -> dict[str, np.ndarray]:
    """The named arrays of the file: a column per feature (or ``x`` whole), then each condition."""
    x = x.astype(np.float32, copy=False)
    if format == "npy":
        return {"x": x}
    if x.ndim > 2 and format == "parquet":
        raise UserError(f"--out {target}: Parquet holds tables of one number per column; these samples "
                        f"are {list(x.shape[1:])} per sample: write .h5, .npz, .npy or .root")
    columns = {name: x[:, i] for i, name in enumerate(names)} if names else {"x": x}
    for name, values in conditions.items():
        if name in columns:
            raise UserError(f"--out {target}: the condition {name} has the name of a column of the "
                            "samples; the file cannot hold both")
        columns[name] = values
    return columns


__all__ = ["SUFFIXES", "Samples", "parse_conditions", "sample_run"]
