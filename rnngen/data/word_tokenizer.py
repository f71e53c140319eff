"""Word tokenizer: regex words and punctuation, newlines kept, <unk> at id 0; or a
pre-tokenized corpus's own tokens.

Raw text (the default) is split by :data:`TOKEN_RE` and decoded readably. A
pre-tokenized corpus (``tokenizer.pretokenized``: Penn Treebank, WikiText) follows the
protocol of PyTorch's ``word_language_model`` and AWD-LSTM: tokens split on whitespace
only, :data:`EOS` at the end of every line, and the corpus's own unknown token
(``tokenizer.unk_token``) read as the unknown id, which decodes back to it; perplexity
is then per corpus token, as in the published tables.
"""

from __future__ import annotations

import collections
import re

import numpy as np

from rnngen.data.errors import DataError

UNK = "<unk>"  # What the unknown id decodes to (raw text; a pre-tokenized corpus's own unknown token otherwise).
EOS = "<eos>"  # The token at every line end of a pre-tokenized corpus.

# A word (Unicode word characters, internal apostrophes kept: "I'll", "o'er"),
# a newline, or any other single non-space character.
TOKEN_RE = re.compile(r"\w+(?:['\u2019]\w+)*|\n|[^\s]")
PRETOKENIZED_RE = re.compile(r"[^\s]+|\n")  # a pre-tokenized corpus: whitespace separates tokens

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
    unit = "character"  # what bits per character count
    unk_id = 0

    def __init__(self, tokens: list[str], lowercase: bool = False, pretokenized: bool = False, unk_token: str = UNK):
        """`tokens`: the vocabulary in id order 1..V-1 (the unknown token excluded)."""
        if len(set(tokens)) != len(tokens) or not all(isinstance(t, str) and t for t in tokens):
            raise DataError("WordTokenizer needs distinct, non-empty token strings")
        if pretokenized and (not unk_token or any(c.isspace() for c in unk_token)):
            raise DataError(f"tokenizer.unk_token={unk_token!r} must be one token without spaces, e.g. '<unk>'")
        self.tokens = list(tokens)
        self.lowercase = bool(lowercase)
        self.pretokenized = bool(pretokenized)
        self.unk_token = unk_token if self.pretokenized else UNK
        self._index = {t: i for i, t in enumerate(self.tokens, start=1)}
        self._table = [self.unk_token, *self.tokens]

    @classmethod
    def from_text(cls, train_text: str, tokenizer_config) -> WordTokenizer:
        """Vocabulary from `train_text`: tokens seen >= min_count times, most frequent
        first (ties alphabetical), at most max_size ids including <unk> (0: no cap)."""
        return cls.from_chunks([train_text], tokenizer_config)

    @classmethod
    def from_chunks(cls, pieces, tokenizer_config) -> WordTokenizer:
        """:meth:`from_text` of the text that the str ``pieces`` make up (each ending at a line end)."""
        min_count, max_size = _check_config(tokenizer_config)
        lowercase, pretokenized = bool(tokenizer_config.lowercase), bool(tokenizer_config.pretokenized)
        unk_token = tokenizer_config.unk_token
        counts = collections.Counter()
        for piece in pieces:
            counts.update(_pieces(piece, lowercase, pretokenized)[0])
        counts.pop(unk_token if pretokenized else None, None)  # the corpus's unknown token is the unknown id
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if not ranked:
            raise DataError(
                f"no word occurs min_count={min_count} times in the training split: "
                "lower --config.tokenizer.min_count"
            )
        return cls(ranked[: max_size - 1] if max_size else ranked, lowercase, pretokenized, unk_token)

    @property
    def vocab_size(self) -> int:
        """Number of ids, the unknown id included."""
        return len(self.tokens) + 1

    def tokenize(self, text: str) -> list[str]:
        """The token strings of `text` (lowercased if enabled), before the vocabulary lookup."""
        return _pieces(text, self.lowercase, self.pretokenized)[0]

    def encode(self, text: str) -> np.ndarray:
        """Returns int32 ids [n] (n tokens); tokens outside the vocabulary map to `unk_id`."""
        return self._ids(self.tokenize(text))

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(int32 ids [n], int64 character offsets [n] where each token starts in `text`)."""
        tokens, starts = _pieces(text, self.lowercase, self.pretokenized)
        return self._ids(tokens), np.asarray(starts, np.int64)

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
        tokens = [self._table[i] for i in ids.tolist()]
        return join_pretokenized(tokens) if self.pretokenized else join_tokens(tokens)

    def unknown_tokens(self, text: str) -> list[str]:
        """Sorted distinct tokens of `text` (lowercased if enabled) that would encode to `unk_id`
        (a pre-tokenized corpus's own unknown token is not one: it is that id by design)."""
        return sorted(set(self.tokenize(text)) - self._index.keys() - {self.unk_token if self.pretokenized else None})

    def to_json(self) -> dict:
        """A JSON-able description; `tokenizer_from_json` restores it."""
        return {"type": self.type_name, "lowercase": self.lowercase, "pretokenized": self.pretokenized,
                "unk_token": self.unk_token, "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, d: dict) -> WordTokenizer:
        """Inverse of `to_json`."""
        return cls(list(d["tokens"]), bool(d["lowercase"]), bool(d["pretokenized"]), d["unk_token"])

    def _ids(self, tokens: list[str]) -> np.ndarray:
        """int32 ids [len(tokens)] by dictionary lookup."""
        get = self._index.get
        return np.fromiter((get(t, 0) for t in tokens), np.int32, len(tokens))


def _pieces(text: str, lowercase: bool, pretokenized: bool) -> tuple[list[str], list[int]]:
    """(tokens of `text`, the character offset where each starts), each lowercased after matching
    (so offsets stay valid). Pre-tokenized: whitespace-separated tokens and :data:`EOS` for every
    line, at its newline (at the end of the text for a last line without one), as PyTorch's
    ``word_language_model`` reads a file line by line."""
    matches = list((PRETOKENIZED_RE if pretokenized else TOKEN_RE).finditer(text))
    tokens = [m.group() for m in matches]
    starts = [m.start() for m in matches]
    if pretokenized:
        tokens = [EOS if t == "\n" else t for t in tokens]
        if text and not text.endswith("\n"):
            tokens.append(EOS)
            starts.append(len(text))
    return ([t.lower() for t in tokens] if lowercase else tokens), starts


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


def join_pretokenized(tokens: list[str]) -> str:
    """A pre-tokenized corpus's text of token strings [n]: single spaces, :data:`EOS` as a line end."""
    parts = []
    for token in tokens:
        if token == EOS:
            parts.append("\n")
        else:
            parts += [" ", token] if parts and parts[-1] != "\n" else [token]
    return "".join(parts)


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
