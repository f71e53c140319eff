"""A local UTF-8 text file, or a directory of them, as train/validation/test.

Directory rule: every regular file below it (recursively, hidden files and
directories skipped) whose extension is in `TEXT_EXTENSIONS`, in sorted path
order, joined with "\\n". A single file is read whatever its extension.
"""

from __future__ import annotations

import os

from rnngen.data.errors import DataError
from rnngen.data.splitting import check_fractions, split_text

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst", ".py", ".tex", ".csv", ".json", ".html", ".xml"})


def load_text_splits(path: str, fractions) -> dict[str, str]:
    """Returns {"train", "validation", "test"} texts cut from `path`."""
    check_fractions(fractions)  # Before reading a possibly large corpus.
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist: pass --config.data.path=FILE_OR_DIR")
    files = _text_files(path) if os.path.isdir(path) else [path]
    if not files:
        raise DataError(f"{path} holds no text files (extensions {sorted(TEXT_EXTENSIONS)})")
    text = "\n".join(read_utf8(f) for f in files)
    if not text:
        raise DataError(f"{path} is empty: give a non-empty UTF-8 text corpus")
    return split_text(text, fractions)


def _text_files(directory: str) -> list[str]:
    """Sorted paths of the text files below `directory`, hidden ones skipped."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            os.path.join(root, n)
            for n in names
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in TEXT_EXTENSIONS
        ]
    return sorted(found)


def read_utf8(path: str) -> str:
    """Returns the UTF-8 text of `path`; DataError naming the bad byte offset."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 (byte offset {e.start}: {e.reason}): "
            "convert it, e.g. `iconv -t UTF-8`, or remove it"
        ) from e
