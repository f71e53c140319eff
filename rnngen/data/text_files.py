"""A local UTF-8 text file, or a directory of them, as train/validation/test.

Directory rule: every regular file below it (recursively, hidden files and
directories skipped) whose extension is in `TEXT_EXTENSIONS`, in sorted path
order, joined with "\\n". A single file is read whatever its extension.

Bytes that are not UTF-8 are an error naming the file and the byte offset
(`encoding_errors="strict"`), or become U+FFFD (`encoding_errors="replace"`).
In strict mode a NUL byte marks a binary file.
"""

from __future__ import annotations

import os

from rnngen.data.errors import DataError
from rnngen.data.splitting import check_fractions, split_text

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst", ".py", ".tex", ".csv", ".json", ".html", ".xml"})
ENCODING_ERRORS = ("strict", "replace")


def load_text_splits(path: str, fractions, encoding_errors: str = "strict") -> dict[str, str]:
    """Returns {"train", "validation", "test"} texts cut from `path`."""
    check_fractions(fractions)  # Before reading a possibly large corpus.
    check_encoding_errors(encoding_errors)
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist: pass --config.data.path=FILE_OR_DIR")
    files = _text_files(path) if os.path.isdir(path) else [path]
    if not files:
        raise DataError(
            f"{path} holds no text files (extensions {' '.join(sorted(TEXT_EXTENSIONS))}): "
            "add some, or pass --config.data.path=FILE"
        )
    text = "\n".join(read_text(f, encoding_errors) for f in files)
    if not text:
        raise DataError(f"{path} is empty: give a non-empty UTF-8 text corpus with --config.data.path")
    return split_text(text, fractions)


def check_encoding_errors(encoding_errors: str) -> None:
    """Raises a DataError unless `encoding_errors` is one of `ENCODING_ERRORS`."""
    if encoding_errors not in ENCODING_ERRORS:
        raise DataError(
            f"data.encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, got {encoding_errors!r}"
        )


def _text_files(directory: str) -> list[str]:
    """Sorted paths of the text files below `directory`, hidden ones skipped."""
    found = []
    for root, dirs, names in os.walk(directory, onerror=_unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            os.path.join(root, n)
            for n in names
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in TEXT_EXTENSIONS
        ]
    return sorted(found)


def _unreadable(error: OSError) -> None:
    raise DataError(f"{error.filename} cannot be read ({error.strerror}): fix its permissions or remove it")


def read_bytes(path: str) -> bytes:
    """The bytes of `path`; a DataError when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e.strerror}): fix its permissions or remove it") from None


def read_text(path: str, encoding_errors: str = "strict") -> str:
    """The UTF-8 text of `path`; with "strict", a DataError naming the first bad byte's offset."""
    data = read_bytes(path)
    if encoding_errors == "replace":
        return data.decode("utf-8", errors="replace")
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(
            f"{path} looks binary: NUL byte at offset {nul}; remove it from the corpus "
            "or pass --config.data.path=FILE_OR_DIR with text only"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 (byte offset {e.start}: {e.reason}): convert it, e.g. `iconv -t UTF-8`, "
            "remove it, or pass --config.data.encoding_errors=replace to read bad bytes as U+FFFD"
        ) from None

