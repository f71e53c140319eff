"""Character (Unicode code point) tokenizer with an unknown token at id 0."""

from __future__ import annotations

import numpy as np

from rnngen.data.errors import DataError

UNK_CHAR = "\ufffd"  # What the unknown id decodes to (REPLACEMENT CHARACTER).


class CharTokenizer:
    """Maps characters to ids 1..V-1 (sorted code points) and unknowns to 0."""

    type_name = "char"
    unit = "character"  # what bits per character count
    unk_id = 0

    def __init__(self, chars: list[str]):
        """`chars`: the distinct, sorted vocabulary characters (unk excluded)."""
        if any(len(c) != 1 for c in chars):
            raise DataError("CharTokenizer needs single characters")
        self.chars = list(chars)
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        if np.any(np.diff(self._codes.astype(np.int64)) <= 0):
            raise DataError("CharTokenizer needs distinct characters, sorted")
        self._table = np.concatenate([[ord(UNK_CHAR)], self._codes]).astype("<u4")
        # code point -> id, up to the largest known code point (at most 4.4 MB)
        self._lookup = np.zeros(int(self._codes.max()) + 1 if len(self._codes) else 1, np.int32)
        self._lookup[self._codes] = np.arange(1, len(self._codes) + 1, dtype=np.int32)

    @classmethod
    def from_text(cls, train_text: str, tokenizer_config=None) -> CharTokenizer:
        """Vocabulary: the sorted distinct characters of `train_text` (the config has no char options)."""
        return cls.from_chunks([train_text])

    @classmethod
    def from_chunks(cls, pieces, tokenizer_config=None) -> CharTokenizer:
        """:meth:`from_text` of the text that the str ``pieces`` make up."""
        chars = set()
        for piece in pieces:
            chars.update(piece)
        return cls(sorted(chars))

    @property
    def vocab_size(self) -> int:
        """Number of ids, the unknown id included."""
        return len(self.chars) + 1

    def encode(self, text: str) -> np.ndarray:
        """Returns int32 ids [len(text)]; unseen characters map to `unk_id`."""
        codes = _code_points(text)
        ids = self._lookup[np.minimum(codes, len(self._lookup) - 1)]
        ids[codes >= len(self._lookup)] = self.unk_id
        return ids

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(int32 ids [n], int64 character offsets [n] where each token starts in `text`)."""
        ids = self.encode(text)
        return ids, np.arange(len(ids), dtype=np.int64)

    def decode(self, ids) -> str:
        """Text of int ids [n]; `unk_id` decodes to "\\ufffd"."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise DataError(f"ids outside [0, {self.vocab_size}) cannot be decoded")
        return self._table[ids].tobytes().decode("utf-32-le", "surrogatepass")

    def unknown_tokens(self, text: str) -> list[str]:
        """Sorted distinct characters of `text` that would encode to `unk_id`."""
        return sorted(set(text) - set(self.chars))

    def to_json(self) -> dict:
        """A JSON-able description; `tokenizer_from_json` restores it."""
        return {"type": self.type_name, "chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, d: dict) -> CharTokenizer:
        """Inverse of `to_json`."""
        return cls(list(d["chars"]))


def _code_points(text: str) -> np.ndarray:
    """uint32 code points [len(text)] (lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
