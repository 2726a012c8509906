"""The report's figures as files: ``figures/<name>.png`` (and ``.pdf``) next to ``report.html``.

A report embeds every figure as a PNG, so the page stays one self-contained file; the same
figures are also written into the run directory's ``figures/`` folder: the PNG the page
embeds and, when asked (``report: {pdf: true}`` or ``quanta report RUN_DIR --pdf``), a PDF of
the figure (vector graphics, the style's fonts embedded), so that they can go into a paper or
a talk. PDFs are not written by default because drawing them costs more than the whole page
(a report of seven methods: 4 s for the page, 4 s more for its PDFs). A figure's file name is its title in lower case, words joined
by ``_`` (``roc_curves_test_split``, ``decision_tree_bdt``): stable from one report of a run to
the next, and a second figure of the same title gets ``_2``.

:class:`FigureFiles` collects the files while the page is drawn and :meth:`FigureFiles.write`
replaces the whole folder at once, so a regenerated report leaves no file of an earlier one
(a figure that is no longer drawn, another style's). The figures are drawn from the run's
checked files and redrawn by ``quanta report``; they are outputs only and nothing reads them
back, so the folder keeps no manifest and the seal of the run's other files is untouched.

Embedded PNGs are palette images (at most 256 colours, chosen per figure): line plots and
histograms have few colours, so this keeps them sharp at a quarter of the size of a
full-colour PNG, and encodes faster.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.config import FIGURES_FOLDER
from quanta.errors import UserError
from quanta.report.style import DEFAULT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: file formats written per figure
FORMATS = ("png", "pdf")
#: figures are drawn at twice their displayed size so they stay sharp on high-DPI screens
PNG_DPI = 192
_PALETTE_COLOURS = 256


def png_bytes(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure as a palette PNG on white, ``dpi`` dots per inch (drawn once by Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    original = fig.dpi
    fig.set_dpi(dpi)
    fig.patch.set_facecolor("white")
    try:
        canvas.draw()
        width, height = canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    finally:
        fig.set_dpi(original)
    palette = image.convert("RGB").quantize(_PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def pdf_bytes(fig: Figure, laid_out: bool = False) -> bytes:
    """The figure as a PDF (vector graphics; fonts embedded as subsets).

    ``laid_out``: the figure was drawn already (:func:`png_bytes`), so its layout is kept as
    it is rather than worked out again (a third of the time; the margins differ by ~1 pt).
    """
    if laid_out:
        fig.set_layout_engine("none")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf", facecolor="white")
    return buffer.getvalue()


def figure_name(title: str) -> str:
    """A file name (no suffix) for a figure titled ``title``: lower case, words joined by ``_``.

    ``"ROC curves (test split)"`` -> ``roc_curves_test_split``; ``"Decision tree: bdt-v2"``
    -> ``decision_tree_bdt-v2`` (a method's name keeps its ``-`` and ``.``).
    """
    words = re.findall(r"[a-z0-9][a-z0-9.\-]*", title.lower())
    return "_".join(w.strip(".-") or w for w in words)[:120] or "figure"


@dataclass
class FigureFiles:
    """The figure files of one report, collected while it is drawn (``{file name: bytes}``)."""

    folder: Path
    pdf: bool = False  # also a PDF of every figure
    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, title: str, png: bytes, fig: Figure) -> str:
        """Keep the figure ``title``: ``png``, drawn by :func:`png_bytes`, and with :attr:`pdf`
        a PDF drawn now with the same layout; returns the files' name."""
        stem, number = figure_name(title), 1
        while f"{stem}.png" in self.files:
            number += 1
            stem = f"{figure_name(title)}_{number}"
        self.files[f"{stem}.png"] = png
        if self.pdf:
            self.files[f"{stem}.pdf"] = pdf_bytes(fig, laid_out=True)
        return stem

    def write(self) -> Path:
        """Replace :attr:`folder` by a folder of exactly these files; returns its path.

        The new folder is written beside the old one and renamed into place, so a reader
        sees the old figures or the new ones, never a mixture (a kill between the two renames
        leaves no folder, which the next ``quanta report`` writes anew).
        """
        parent, pid = self.folder.parent, os.getpid()
        partial = parent / f".{self.folder.name}.{pid}.tmp"
        previous = parent / f".{self.folder.name}.{pid}.old"
        try:
            for leftover in (partial, previous):
                shutil.rmtree(leftover, ignore_errors=True)
            partial.mkdir()
            for name, payload in self.files.items():
                (partial / name).write_bytes(payload)
            if self.folder.is_dir() and not self.folder.is_symlink():
                os.replace(self.folder, previous)
            elif self.folder.exists() or self.folder.is_symlink():
                raise UserError(f"{self.folder}: not a folder of figure files; move it away so "
                                "that the report can write its figures there")
            os.replace(partial, self.folder)
        except OSError as error:
            raise UserError(f"{self.folder}: cannot write the figure files "
                            f"({error.strerror or error})") from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(previous, ignore_errors=True)
        return self.folder


@dataclass(frozen=True)
class Drawing:
    """How the figures of the report being drawn are drawn: their style, where their files go."""

    style: str = DEFAULT
    files: FigureFiles | None = None


_OUTSIDE = Drawing()
_CURRENT: contextvars.ContextVar[Drawing | None] = contextvars.ContextVar("drawing", default=None)


def current() -> Drawing:
    """The drawing of the report being rendered (the default style, no files, outside one)."""
    return _CURRENT.get() or _OUTSIDE


@contextlib.contextmanager
def drawing(style: str = DEFAULT, files: FigureFiles | None = None) -> Iterator[Drawing]:
    """Draw the report's figures inside the block in ``style``, collecting them in ``files``."""
    now = Drawing(style, files)
    token = _CURRENT.set(now)
    try:
        yield now
    finally:
        _CURRENT.reset(token)


__all__ = ["FIGURES_FOLDER", "FORMATS", "PNG_DPI", "Drawing", "FigureFiles", "current", "drawing",
           "figure_name", "pdf_bytes", "png_bytes"]
