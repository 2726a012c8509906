"""The look of the report's figures: quanta's own, or an experiment's (ATLAS, CMS, LHCb, ROOT).

An experiment file chooses it with ``report: {style: cms}``, and ``quanta report RUN_DIR
--style cms`` redraws a finished run in another. The experiments' styles come from mplhep
(``pip install 'quanta[style]'``), an optional extra: ``default``, quanta's look, needs nothing.

mplhep's styles are made for one 10 x 10 inch panel with 26 pt text. The report's figures are
smaller (about 6 x 4.5 inches a panel) and each sets its own size, so :func:`figure_style` keeps
the style's fonts, colours, ticks and label placement, scales its lengths in points (tick
lengths, pads, line widths) to the report's 11 pt text, and leaves out its figure size,
resolution and saving options.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

from quanta.errors import UserError, closest, shown

#: the styles by the names an experiment file uses, and mplhep's name for each
STYLES = {"default": None, "atlas": "ATLAS", "cms": "CMS", "lhcb": "LHCb2", "root": "ROOT"}
DEFAULT = "default"
INSTALL = "pip install 'quanta[style]'"

#: the report's text size (pt): an experiment style's lengths are scaled from its own text size
_TEXT_POINTS = 11.0
#: rc settings of a style that the report's figures set themselves, or that change saved files
_LEFT_OUT = ("figure.figsize", "figure.dpi", "figure.subplot.", "savefig.", "font.size")
#: rc settings that are lengths in points, scaled with the text
_LENGTHS = ("size", "width", "pad", "linewidth", "markersize", "markeredgewidth", "capsize")


def check_style(name: Any, where: str) -> str:
    """``name`` if it is a style this installation can draw, else a one-line :class:`UserError`.

    ``where`` names the setting in the message (``report.style``, ``--style``).
    """
    if not isinstance(name, str) or name not in STYLES:
        guess = closest(str(name), list(STYLES))
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"{where}: unknown style {shown(name)}{hint} allowed: {', '.join(STYLES)}")
    if STYLES[name] is not None and importlib.util.find_spec("mplhep") is None:
        raise UserError(f"{where}: style '{name}' needs mplhep, which is not installed; "
                        f"install it with {INSTALL} (or use style '{DEFAULT}')")
    return name


def _is_length(key: str, value: Any) -> bool:
    last = key.rsplit(".", 1)[-1]
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and last in _LENGTHS and not key.endswith("labelsize") and "font" not in key)


def style_settings(name: str) -> dict[str, Any]:
    """The rc settings of style ``name`` as the report applies them (empty for ``default``)."""
    mplhep_name = STYLES[check_style(name, "style")]
    if mplhep_name is None:
        return {}
    import mplhep

    style = getattr(mplhep.style, mplhep_name)
    scale = _TEXT_POINTS / float(style.get("font.size", _TEXT_POINTS))
    settings = {}
    for key, value in style.items():
        if key.startswith(_LEFT_OUT):
            continue
        settings[key] = value * scale if _is_length(key, value) else value
    settings["font.size"] = _TEXT_POINTS
    return settings


@contextlib.contextmanager
def figure_style(name: str = DEFAULT) -> Iterator[None]:
    """Draw (and save) figures in style ``name`` inside the block; the rc settings are restored
    after it. ``default`` changes nothing: the figures keep quanta's look."""
    import matplotlib

    settings = style_settings(name)
    if not settings:
        yield
        return
    with matplotlib.rc_context(settings):
        yield


__all__ = ["DEFAULT", "INSTALL", "STYLES", "check_style", "figure_style", "style_settings"]
