"""Word tokenizer: regex words and punctuation, newlines kept, <unk> at id 0."""

from __future__ import annotations

import collections
import re

import numpy as np

from rnngen.data.errors import DataError

UNK = "<unk>"  # What the unknown id decodes to.

# A word (Unicode word characters, internal apostrophes kept: "I'll", "o'er"),
# a newline, or any other single non-space character.
TOKEN_RE = re.compile(r"\w+(?:['\u2019]\w+)*|\n|[^\s]")

_CLOSING = frozenset(",.;:!?)]}%\u2026\u00bb\u201d")  # no space before these
_OPENING = frozenset("([{\u00bf\u00a1\u00ab\u201c\u2018")  # no space after these
_APOSTROPHES = frozenset("'\u2019")
_SENTENCE_PUNCT = frozenset(",.;:!?")  # an apostrophe after these closes a quote
# Words an apostrophe before them elides a letter from ("'tis"), so it sticks to them.
_ELIDED = frozenset("t tis twas twere twill twould twixt tween em gainst fore mongst".split())


class WordTokenizer:
    """Maps words, punctuation and newlines to ids 1..V-1; the rest to `unk_id` 0.

    Decoding is readable, not exact: spaces are normalised (see `decode`).
    """

    type_name = "word"
    unk_id = 0

    def __init__(self, tokens: list[str], lowercase: bool = False):
        """`tokens`: the vocabulary in id order 1..V-1 (<unk> excluded)."""
        if len(set(tokens)) != len(tokens) or not all(isinstance(t, str) and t for t in tokens):
            raise DataError("WordTokenizer needs distinct, non-empty token strings")
        self.tokens = list(tokens)
        self.lowercase = bool(lowercase)
        self._index = {t: i for i, t in enumerate(self.tokens, start=1)}
        self._table = [UNK, *self.tokens]

    @classmethod
    def from_text(cls, train_text: str, tokenizer_config) -> WordTokenizer:
        """Vocabulary from `train_text`: tokens seen >= min_count times, most frequent
        first (ties alphabetical), at most max_size ids including <unk> (0: no cap)."""
        min_count, max_size = _check_config(tokenizer_config)
        lowercase = bool(tokenizer_config.lowercase)
        counts = collections.Counter(_split(train_text, lowercase))
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if not ranked:
            raise DataError(
                f"no word occurs min_count={min_count} times in the training split: "
                "lower --config.tokenizer.min_count"
            )
        return cls(ranked[: max_size - 1] if max_size else ranked, lowercase)

    @property
    def vocab_size(self) -> int:
        """Number of ids, the unknown id included."""
        return len(self.tokens) + 1

    def tokenize(self, text: str) -> list[str]:
        """The token strings of `text` (lowercased if enabled), before the vocabulary lookup."""
        return _split(text, self.lowercase)

    def encode(self, text: str) -> np.ndarray:
        """Returns int32 ids [n] (n tokens); tokens outside the vocabulary map to `unk_id`."""
        return self._ids(self.tokenize(text))

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(int32 ids [n], int64 character offsets [n] where each token starts in `text`)."""
        matches = list(TOKEN_RE.finditer(text))
        tokens = [m.group() for m in matches]
        if self.lowercase:
            tokens = [t.lower() for t in tokens]
        starts = np.fromiter((m.start() for m in matches), np.int64, len(matches))
        return self._ids(tokens), starts

    def decode(self, ids) -> str:
        """Readable text of int ids [n]; `unk_id` decodes to "<unk>".

        Not the exact inverse of `encode`: tokens are joined by single spaces,
        except none before closing punctuation (, . ; : ! ? ) ] } ...), none after
        opening brackets, none around newlines and hyphens, straight double quotes
        alternate opening/closing, and an apostrophe sticks to the next word when
        that is an elided form ("and 'tis", "hang 'em"), else to a preceding word
        or , . ; : ! ? ("o' the", "friends,' quoth"), else to the next word.
        "KING HENRY:\\nI'll go, my lord!\\n" decodes back exactly.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise DataError(f"ids outside [0, {self.vocab_size}) cannot be decoded")
        return join_tokens([self._table[i] for i in ids.tolist()])

    def unknown_tokens(self, text: str) -> list[str]:
        """Sorted distinct tokens of `text` (lowercased if enabled) that would encode to `unk_id`."""
        return sorted(set(self.tokenize(text)) - self._index.keys())

    def to_json(self) -> dict:
        """A JSON-able description; `tokenizer_from_json` restores it."""
        return {"type": self.type_name, "lowercase": self.lowercase, "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, d: dict) -> WordTokenizer:
        """Inverse of `to_json`."""
        return cls(list(d["tokens"]), bool(d["lowercase"]))

    def _ids(self, tokens: list[str]) -> np.ndarray:
        """int32 ids [len(tokens)] by dictionary lookup."""
        get = self._index.get
        return np.fromiter((get(t, 0) for t in tokens), np.int32, len(tokens))


def _split(text: str, lowercase: bool) -> list[str]:
    """Regex tokens of `text`; each lowercased after matching (so offsets stay valid)."""
    tokens = TOKEN_RE.findall(text)
    return [t.lower() for t in tokens] if lowercase else tokens


def _check_config(tokenizer_config) -> tuple[int, int]:
    """(min_count, max_size) from the config, or a DataError naming the fix."""
    min_count, max_size = int(tokenizer_config.min_count), int(tokenizer_config.max_size)
    if min_count < 1:
        raise DataError(f"tokenizer.min_count={min_count} must be >= 1, e.g. --config.tokenizer.min_count=1")
    if max_size < 0 or max_size == 1:
        raise DataError(
            f"tokenizer.max_size={max_size} must be 0 (no cap) or >= 2 (it counts <unk>), "
            "e.g. --config.tokenizer.max_size=0"
        )
    return min_count, max_size


def join_tokens(tokens: list[str]) -> str:
    """Joins token strings [n] with single spaces where `decode` puts them."""
    parts, glue_next, in_quote, prev = [], True, False, None
    for tok, nxt in zip(tokens, [*tokens[1:], None]):
        glue_left, glue_right, in_quote = _glue(prev, tok, nxt, in_quote)
        if parts and not (glue_next or glue_left):
            parts.append(" ")
        parts.append(tok)
        glue_next, prev = glue_right, tok
    return "".join(parts)


def _glue(prev: str | None, tok: str, nxt: str | None, in_quote: bool) -> tuple[bool, bool, bool]:
    """(no space before `tok`, no space after it, inside a double quote after it)."""
    if tok == '"':
        return in_quote, not in_quote, not in_quote
    if tok in _APOSTROPHES:
        closes = prev is not None and (_is_word(prev) or prev in _SENTENCE_PUNCT)
        closes = closes and (nxt is None or nxt.lower() not in _ELIDED)
        return closes, not closes, in_quote
    if tok == "\n" or tok == "-":
        return True, True, in_quote
    return tok in _CLOSING, tok in _OPENING, in_quote


def _is_word(tok: str) -> bool:
    """Whether `tok` is a word token (or the unknown word)."""
    return tok == UNK or tok[0] == "_" or tok[0].isalnum()
