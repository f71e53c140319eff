"""Text sources, tokenizers and TBPTT batching; numpy only, never JAX.

TFDS is imported only when the tiny_shakespeare source is loaded, and
sentencepiece only when a subword tokenizer is built or restored.
"""

from __future__ import annotations

from rnngen.data.batching import TBPTTBatcher, eval_batches, min_tokens
from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.errors import DataError
from rnngen.data.sources import SOURCES, load_splits
from rnngen.data.subword_tokenizer import SubwordTokenizer
from rnngen.data.tokenizers import TOKENIZERS, build_tokenizer, tokenizer_from_json
from rnngen.data.word_tokenizer import WordTokenizer

__all__ = [
    "SOURCES",
    "TOKENIZERS",
    "CharTokenizer",
    "DataError",
    "SubwordTokenizer",
    "TBPTTBatcher",
    "WordTokenizer",
    "build_tokenizer",
    "eval_batches",
    "load_splits",
    "min_tokens",
    "tokenizer_from_json",
]
