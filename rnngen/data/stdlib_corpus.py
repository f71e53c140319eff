"""The running Python's own standard library `.py` sources, an offline corpus.

Files below `sysconfig.get_paths()["stdlib"]`, skipping `site-packages`,
`dist-packages`, `test`, `tests`, `idle_test` and `__pycache__` directories,
in sorted path order, joined with "\\n" (undecodable bytes replaced).
Deterministic for a given Python.
"""

from __future__ import annotations

import os
import sysconfig

from rnngen.data.errors import DataError
from rnngen.data.splitting import check_fractions, split_text

_SKIPPED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})


def stdlib_py_files() -> list[str]:
    """Sorted paths of the standard library's `.py` files (tests excluded)."""
    found = []
    for root, dirs, names in os.walk(sysconfig.get_paths()["stdlib"]):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        found += [os.path.join(root, n) for n in names if n.endswith(".py")]
    return sorted(found)


def load_stdlib_splits(fractions, max_chars: int | None = None) -> dict[str, str]:
    """Returns {"train", "validation", "test"} of the stdlib sources.

    With `max_chars`, only the first `max_chars` characters are split; files
    are read only until that many are gathered.
    """
    check_fractions(fractions)  # Before reading the files.
    if max_chars is not None and max_chars < 1:
        raise DataError(f"max_chars={max_chars} must be None or a positive int")
    pieces, total = [], 0
    for path in stdlib_py_files():
        if max_chars is not None and total >= max_chars:
            break
        with open(path, encoding="utf-8", errors="replace") as f:
            pieces.append(f.read())
        total += len(pieces[-1]) + 1
    text = "\n".join(pieces)[:max_chars]
    if not text:
        raise DataError(f"no .py files found under {sysconfig.get_paths()['stdlib']}")
    return split_text(text, fractions)
