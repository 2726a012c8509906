"""The one piece of HTML markup every report section needs: text made safe to put in a page."""

from __future__ import annotations

import html
from typing import Any


def escaped(value: Any) -> str:
    """``str(value)`` with ``& < > " '`` escaped, safe inside an element or an attribute."""
    return html.escape(str(value), quote=True)
