"""A split as the model sees it: its token ids, and the characters they cover (numpy only)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class EncodedSplit(NamedTuple):
    """A split as the model sees it.

    ids: int [n] token ids (int32, or uint16/uint32 memory-mapped from the
    token store, :mod:`rnngen.data.token_store`); starts: int64 [n] character
    offset of each token in the split's text (None from the token store);
    num_chars: characters covered by the predicted tokens ids[1:] (all text from
    the second token's start), the denominator of bits per character for every
    tokenization; for the byte tokenizer (``unit`` "byte") the predicted bytes,
    so that bpc is bits per byte (the enwik8 protocol).
    """

    ids: np.ndarray
    starts: np.ndarray
    num_chars: int


def encode_split(tokenizer, text: str) -> EncodedSplit:
    """text -> its ids, token offsets and predicted character count."""
    ids, starts = tokenizer.encode_with_offsets(text)
    ids = np.asarray(ids, dtype=np.int32)
    starts = np.asarray(starts, dtype=np.int64)
    if tokenizer.unit == "byte":
        num_chars = max(len(ids) - 1, 0)
    else:
        num_chars = len(text) - int(starts[1]) if len(ids) > 1 else 0
    return EncodedSplit(ids, starts, num_chars)
