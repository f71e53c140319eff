"""Text sources, tokenizers and TBPTT batching; numpy only, never JAX.

TFDS is imported only when the tiny_shakespeare source is loaded.
"""

from __future__ import annotations

from rnngen.data.batching import TBPTTBatcher, eval_batches, min_tokens
from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.errors import DataError
from rnngen.data.sources import SOURCES, load_splits
from rnngen.data.tokenizers import tokenizer_from_json

__all__ = [
    "SOURCES",
    "CharTokenizer",
    "DataError",
    "TBPTTBatcher",
    "eval_batches",
    "load_splits",
    "min_tokens",
    "tokenizer_from_json",
]
