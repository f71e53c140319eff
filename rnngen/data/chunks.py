"""Reading a corpus in pieces of text, so that one of any size is never held whole.

A split is an iterator of text pieces (:data:`Chunks`) whose concatenation is the split's
text. Pieces end at a line end where the text has one (:func:`line_aligned`): no token of
the char, byte, word or subword tokenizers spans a newline, so encoding piece by piece
gives the ids of the whole text.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from rnngen.data.errors import DataError

Chunks = Callable[[], Iterator[str]]  # a fresh iterator over a split's text, piece by piece
ENCODING_ERRORS = ("strict", "replace")
READ_BYTES = 1 << 22  # bytes read at a time: 4 MiB (a piece's encoding takes a few times that)


class Corpus(NamedTuple):
    """A corpus: {"train", "validation", "test"} as chunks, and ``identity``, JSON naming what
    their text depends on (the source's settings; each file's path, size and modification
    time), the key of the token ids cached from them (:mod:`rnngen.data.token_store`)."""

    splits: dict[str, Chunks]
    identity: dict


def files_identity(paths: Iterable[str]) -> list[list]:
    """[[absolute path, size, modification time in ns]] of ``paths``: a file that changes changes it."""
    rows = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError as e:
            raise unreadable(path, e) from None
        rows.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
    return rows


def file_chunks(path: str, encoding_errors: str = "strict", start: int = 0, stop: int | None = None,
                errors_codec: str | None = None) -> Iterator[str]:
    """The text of ``path``'s bytes [start, stop) in pieces of :data:`READ_BYTES`, decoded as UTF-8.

    ``encoding_errors`` (one of :data:`ENCODING_ERRORS`): "strict" raises a DataError naming the
    file and the byte offset of the first bad byte (a NUL byte marks a binary file), "replace"
    reads bad bytes as U+FFFD. ``errors_codec`` overrides the decoder's
    error handler (the byte source's "surrogateescape").
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors_codec or encoding_errors)
    strict = errors_codec is None and encoding_errors == "strict"
    try:
        f = open(path, "rb")
    except OSError as e:
        raise unreadable(path, e) from None
    with f:
        f.seek(start)
        offset, left = start, (None if stop is None else stop - start)
        while left is None or left > 0:
            data = f.read(READ_BYTES if left is None else min(READ_BYTES, left))
            if not data:
                break
            if strict:
                check_not_binary(path, data, offset)
            yield decode_piece(decoder, path, data, offset)
            offset += len(data)
            left = None if left is None else left - len(data)
        yield decode_piece(decoder, path, b"", offset, final=True)


def unreadable(path: str, error: OSError) -> DataError:
    return DataError(f"{path} cannot be read ({error.strerror}): fix its permissions or remove it")


def check_encoding_errors(encoding_errors: str) -> None:
    """Raises a DataError unless `encoding_errors` is one of `ENCODING_ERRORS`."""
    if encoding_errors not in ENCODING_ERRORS:
        raise DataError(
            f"data.encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, got {encoding_errors!r}"
        )


def check_not_binary(path: str, data: bytes, offset: int) -> None:
    """A DataError when ``data`` (read at byte ``offset`` of ``path``) holds a NUL byte."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(
            f"{path} looks binary: NUL byte at offset {offset + nul}; remove it from the corpus "
            "or pass --config.data.path=FILE_OR_DIR with text only"
        )


def decode_piece(decoder, path: str, data: bytes, offset: int, final: bool = False) -> str:
    """``data`` through the incremental ``decoder``; a bad byte is a DataError with its file offset."""
    held = len(decoder.getstate()[0])  # bytes of an incomplete character kept from the previous piece
    try:
        return decoder.decode(data, final)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 (byte offset {offset - held + e.start}: {e.reason}): convert it, e.g. "
            "`iconv -t UTF-8`, remove it, or pass --config.data.encoding_errors=replace to read bad bytes "
            "as U+FFFD"
        ) from None


def line_aligned(pieces: Iterable[str]) -> Iterator[str]:
    """``pieces`` re-cut so that each (but the last) ends with a newline, where the text has one
    within a piece; a piece without any is passed on as it is."""
    rest = ""
    for piece in pieces:
        text = rest + piece
        cut = text.rfind("\n") + 1
        if cut == 0:
            rest = text
            if len(rest) >= READ_BYTES:  # one very long line: pass it on whole
                yield rest
                rest = ""
            continue
        if text[:cut]:
            yield text[:cut]
        rest = text[cut:]
    if rest:
        yield rest


def joined(sources: Iterable[Chunks], separator: str = "\n") -> Iterator[str]:
    """The pieces of each source in turn, with ``separator`` between sources."""
    for i, chunks in enumerate(sources):
        if i:
            yield separator
        yield from chunks()


def char_slice(pieces: Iterable[str], start: int, stop: int | None) -> Iterator[str]:
    """The characters [start, stop) of the text that ``pieces`` make up, as pieces."""
    position = 0
    for piece in pieces:
        end = position + len(piece)
        if stop is not None and position >= stop:
            return
        if end > start:
            yield piece[max(start - position, 0): None if stop is None else stop - position]
        position = end


def count_chars(pieces: Iterable[str]) -> int:
    """The length of the text that ``pieces`` make up."""
    return sum(len(piece) for piece in pieces)


def whole_text(chunks: Chunks) -> str:
    """A split's text in one string (small splits: tests, evaluation with resets, subword training)."""
    return "".join(chunks())


def in_memory(text: str) -> Chunks:
    """The chunks of a text already in memory (the TFDS and stdlib sources)."""
    return lambda: iter([text] if text else [])
