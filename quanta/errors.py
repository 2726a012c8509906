"""User-facing errors: one line naming what is wrong and what is allowed.

Anything the user can get wrong (a name, a config value, a file, data content)
raises :class:`UserError`. The command line prints its message on one line and
exits with status 2; a Python caller gets the exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input (config, names, files, data); exit status 2."""

    exit_status = 2


class TrainingFailed(UserError):
    """Training cannot go on (a diverging loss, a collapsing generator); the network names the method.

    ``describe(label)`` is the one-line message with the method's name in front;
    ``Network.fit`` raises it as a plain :class:`UserError` with that name.
    """

    def describe(self, label: str) -> str:
        return f"{label}: {self}"


#: the longest echo of a received value in a message (a YAML alias bomb must not print gigabytes)
SHOWN = 80


def shown(value: object) -> str:
    """``repr(value)`` for a message, cut to :data:`SHOWN` characters with the full length said."""
    text = repr(value)
    if len(text) <= SHOWN:
        return text
    return f"{text[:SHOWN]}... ({len(text):,} characters)"


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its type's name when it has none (for one-line errors)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def closest(name: str, allowed: Iterable[str]) -> str | None:
    """The allowed name closest to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_name(kind: str, name: str, allowed: Iterable[str], listing: str | None = None) -> UserError:
    """Error for an unknown registered name, suggesting the closest match."""
    allowed = sorted(allowed)
    guess = closest(name, allowed)
    hint = f"; did you mean '{guess}'?" if guess else ""
    where = f" (list them with `{listing}`)" if listing else ""
    return UserError(f"unknown {kind} '{name}'{hint} allowed: {', '.join(allowed)}{where}")
