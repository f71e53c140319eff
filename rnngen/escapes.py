"""Backslash escapes typed on a command line or in `rnngen chat` (no dependencies: the CLI imports it early)."""

from __future__ import annotations

import re

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\([ntr\\])")


def unescape(text: str) -> str:
    """``text`` with \\n, \\t, \\r and \\\\ read as newline, tab, carriage return and backslash;
    any other backslash stays as it is."""
    return _ESCAPE_RE.sub(lambda m: ESCAPES[m.group(1)], text)
