"""Byte tokenizer: the 256 byte values are the ids, so any bytes round-trip exactly.

Texts are UTF-8; a corpus read as raw bytes (source ``bytes``, the enwik8 protocol) keeps
the bytes that are not UTF-8 as lone surrogates (Python's ``surrogateescape``), so
``decode_bytes(encode(text))`` is the file's bytes. Bits per character are then bits per
byte (:attr:`unit`). There is no unknown id: every byte is in the vocabulary.
"""

from __future__ import annotations

import numpy as np

from rnngen.data.errors import DataError

VOCAB_SIZE = 256


class ByteTokenizer:
    """Maps each UTF-8 byte of a text to its value, 0..255."""

    type_name = "byte"
    unit = "byte"  # what bits per "character" count
    unk_id = -1  # none: the sampler bans no token
    piece_bytes = tuple(bytes([i]) for i in range(VOCAB_SIZE))  # what each id adds to decoded text
    vocab_size = VOCAB_SIZE

    @classmethod
    def from_text(cls, train_text: str = "", tokenizer_config=None) -> ByteTokenizer:
        """The byte vocabulary is fixed; nothing is learned from the text."""
        return cls()

    @classmethod
    def from_chunks(cls, pieces=(), tokenizer_config=None) -> ByteTokenizer:
        """The byte vocabulary is fixed; the pieces are not read."""
        return cls()

    def encode(self, text: str) -> np.ndarray:
        """int32 ids [number of bytes]: the UTF-8 bytes of ``text`` (lone surrogates from
        ``surrogateescape`` back to their bytes)."""
        return np.frombuffer(text.encode("utf-8", "surrogateescape"), np.uint8).astype(np.int32)

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(int32 ids [n bytes], int64 character offsets [n]: the character each byte belongs to)."""
        return self.encode(text), np.repeat(np.arange(len(text), dtype=np.int64), utf8_lengths(text))

    def decode_bytes(self, ids) -> bytes:
        """The exact bytes of int ids [n]."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
            raise DataError(f"ids outside [0, {VOCAB_SIZE}) cannot be decoded")
        return ids.astype(np.uint8).tobytes()

    def decode(self, ids) -> str:
        """Text of int ids [n]; byte sequences that are not UTF-8 decode to "\\ufffd" (printable)."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    def unknown_tokens(self, text: str) -> list[str]:
        """Always empty: every byte has an id."""
        return []

    def to_json(self) -> dict:
        return {"type": self.type_name}

    @classmethod
    def from_json(cls, d: dict) -> ByteTokenizer:
        return cls()


def utf8_lengths(text: str) -> np.ndarray:
    """int64 [len(text)]: how many bytes each character of ``text`` takes in UTF-8, a lone
    surrogate of ``surrogateescape`` (U+DC80..U+DCFF) one, any other lone surrogate three."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
    lengths = 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000)
    escaped = (codes >= 0xDC80) & (codes <= 0xDCFF)
    return np.where(escaped, 1, lengths).astype(np.int64)
