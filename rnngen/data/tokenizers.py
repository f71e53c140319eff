"""Restores any tokenizer from its `to_json()` dict, by its "type" field."""

from __future__ import annotations

from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.errors import DataError

# "type" -> class with `from_json`; word/subword tokenizers register here.
TOKENIZERS = {CharTokenizer.type_name: CharTokenizer}


def tokenizer_from_json(d: dict):
    """Returns the tokenizer described by `d` (from a `to_json()` call)."""
    cls = TOKENIZERS.get(d.get("type"))
    if cls is None:
        raise DataError(f"unknown tokenizer type {d.get('type')!r}: known types are {sorted(TOKENIZERS)}")
    return cls.from_json(d)
