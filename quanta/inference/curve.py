"""Reading a measured scattering curve: columns q, I and (if present) dI from a text or CSV file.

SAXS/SANS reduction software writes a curve as columns of numbers: the
momentum transfer q (1/A), the intensity I(q) (cm^-1, or any consistent
unit) and often its standard uncertainty dI, sometimes a q resolution dq
after it. quanta reads comma-separated or whitespace-separated columns, with
``#`` comment lines, and an optional header line naming the columns
(``q, I, dI``; also ``intensity``, ``sigma``, ``error``). Without a header
the first three columns are q, I and dI. Every problem is a one-line
:class:`~quanta.errors.UserError` naming the file and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quanta.errors import UserError

MIN_POINTS = 10  # fewer points cannot constrain a size, a polydispersity, a scale and a background
Q_NAMES = ("q",)
INTENSITY_NAMES = ("i", "intensity", "i(q)", "iq")
SIGMA_NAMES = ("di", "sigma", "error", "err", "di(q)", "i_err", "sigma_i")


@dataclass(frozen=True)
class Curve:
    """A measured curve, sorted by q: ``q`` (1/A), ``intensity`` and ``sigma`` (None if not given)."""

    q: np.ndarray  # float64[n] > 0, increasing
    intensity: np.ndarray  # float64[n]
    sigma: np.ndarray | None  # float64[n] > 0, or None


def check_curve(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None, where: str) -> Curve:
    """The curve as float64 arrays sorted by q, or a one-line error naming ``where`` and the problem."""
    columns = {"q": q, "I": intensity} if sigma is None else {"q": q, "I": intensity, "dI": sigma}
    arrays = {}
    for name, values in columns.items():
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserError(f"{where}: column {name} must hold numbers") from None
        if array.ndim != 1:
            raise UserError(f"{where}: column {name} must be one-dimensional; received shape {array.shape}")
        arrays[name] = array
    lengths = {len(array) for array in arrays.values()}
    if len(lengths) != 1:
        raise UserError(f"{where}: columns q, I (and dI) must have equal lengths; received "
                        + ", ".join(f"{name} {len(array)}" for name, array in arrays.items()))
    for name, array in arrays.items():
        bad = int((~np.isfinite(array)).sum())
        if bad:
            raise UserError(f"{where}: column {name} has {bad} NaN or Inf value(s); remove those rows")
    n = lengths.pop()
    if n < MIN_POINTS:
        raise UserError(f"{where}: a curve needs at least {MIN_POINTS} points; received {n}")
    if (arrays["q"] <= 0).any():
        raise UserError(f"{where}: column q must be > 0 (1/A); {int((arrays['q'] <= 0).sum())} value(s) are not")
    if "dI" in arrays and (arrays["dI"] <= 0).any():
        raise UserError(f"{where}: column dI must be > 0; {int((arrays['dI'] <= 0).sum())} value(s) are not "
                        "(omit the column to assume counting errors)")
    if not (arrays["I"] > 0).any():
        raise UserError(f"{where}: column I has no positive intensity")
    order = np.argsort(arrays["q"], kind="stable")
    return Curve(arrays["q"][order], arrays["I"][order], arrays["dI"][order] if "dI" in arrays else None)


def read_curve(path: str | Path) -> Curve:
    """Read and check a curve file (CSV or whitespace-separated text; see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot be read as a text file ({type(error).__name__})") from None
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.replace(",", " ").replace(";", " ").replace("\t", " ").split()]
        rows.append((number, fields))
    if not rows:
        raise UserError(f"{path}: no data lines (expected columns q, I and optionally dI)")
    header = None
    if not _numeric(rows[0][1][0]):
        header = [name.lower() for name in rows[0][1]]
        rows = rows[1:]
    q_col, i_col, s_col = _columns(path, header, rows)
    table = []
    for number, fields in rows:
        needed = max(col for col in (q_col, i_col, s_col) if col is not None)
        if len(fields) <= needed:
            raise UserError(f"{path}: line {number} has {len(fields)} column(s); expected at least {needed + 1}")
        try:
            table.append([float(fields[col]) if col is not None else np.nan for col in (q_col, i_col, s_col)])
        except ValueError:
            raise UserError(f"{path}: line {number} holds a value that is not a number: {' '.join(fields)[:60]!r}") from None
    values = np.array(table, dtype=np.float64).reshape(-1, 3)
    return check_curve(values[:, 0], values[:, 1], values[:, 2] if s_col is not None else None, str(path))


def _numeric(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _columns(path: Path, header: list[str] | None, rows: list[tuple[int, list[str]]]) -> tuple[int, int, int | None]:
    """Positions of q, I and dI (None when absent)."""
    if header is None:
        width = len(rows[0][1]) if rows else 0
        if width < 2:
            raise UserError(f"{path}: needs at least two columns (q and I); line {rows[0][0]} has {width}")
        return 0, 1, 2 if width >= 3 else None

    def find(names: tuple[str, ...]) -> int | None:
        return next((header.index(name) for name in names if name in header), None)

    q_col, i_col, s_col = find(Q_NAMES), find(INTENSITY_NAMES), find(SIGMA_NAMES)
    if q_col is None or i_col is None:
        missing = "q" if q_col is None else "I"
        raise UserError(f"{path}: the header has no column {missing} (it names {', '.join(header)}; "
                        "expected q, I and optionally dI)")
    return q_col, i_col, s_col
