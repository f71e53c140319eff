"""Text splits and the tokenizer that turns them into ids (numpy only)."""

from __future__ import annotations

import numpy as np

from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.sources import load_splits
from rnngen.data.tokenizers import tokenizer_from_json


def load_corpus(data_config, tokenizer_json: dict | None = None):
    """Loads the configured splits and a tokenizer.

    The tokenizer is rebuilt from ``tokenizer_json`` (a checkpoint's) when given,
    else learned from the training split. Returns (tokenizer, {split: text}).
    """
    texts = load_splits(data_config)
    if tokenizer_json is not None:
        tokenizer = tokenizer_from_json(tokenizer_json)
    else:
        tokenizer = CharTokenizer.from_text(texts["train"])
    return tokenizer, texts


def encode_split(tokenizer, text: str) -> np.ndarray:
    """text -> int32 ids [n]."""
    return np.asarray(tokenizer.encode(text), dtype=np.int32)
