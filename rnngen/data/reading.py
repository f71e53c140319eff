"""Reading one corpus file: its bytes, and its text as UTF-8 with a clear error for anything else."""

from __future__ import annotations

from rnngen.data.errors import DataError

ENCODING_ERRORS = ("strict", "replace")


def check_encoding_errors(encoding_errors: str) -> None:
    """Raises a DataError unless `encoding_errors` is one of `ENCODING_ERRORS`."""
    if encoding_errors not in ENCODING_ERRORS:
        raise DataError(
            f"data.encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, got {encoding_errors!r}"
        )


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

