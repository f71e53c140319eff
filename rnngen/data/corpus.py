"""Text splits and the tokenizer that turns them into ids (numpy only)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnngen.data.sources import load_splits
from rnngen.data.tokenizers import build_tokenizer, tokenizer_from_json


class EncodedSplit(NamedTuple):
    """A split as the model sees it.

    ids: int32 [n] token ids; starts: int64 [n] character offset of each token
    in the split's text; num_chars: characters covered by the predicted tokens
    ids[1:] (all text from the second token's start), the denominator of bits
    per character for every tokenization; for the byte tokenizer (``unit``
    "byte") the predicted bytes, so that bpc is bits per byte (the enwik8 protocol).
    """

    ids: np.ndarray
    starts: np.ndarray
    num_chars: int


def load_corpus(data_config, tokenizer_config, tokenizer_json: dict | None = None):
    """Loads the configured splits and a tokenizer.

    The tokenizer is rebuilt from ``tokenizer_json`` (a checkpoint's) when given,
    else learned from the training split as ``tokenizer_config`` says.
    Returns (tokenizer, {split: text}).
    """
    texts = load_splits(data_config)
    if tokenizer_json is not None:
        tokenizer = tokenizer_from_json(tokenizer_json)
    else:
        tokenizer = build_tokenizer(tokenizer_config, texts["train"])
    return tokenizer, texts


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
