"""The tokenizer registry: build one from the config, or restore one from its `to_json()` dict."""

from __future__ import annotations

from rnngen.data.byte_tokenizer import ByteTokenizer
from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.errors import DataError
from rnngen.data.subword_tokenizer import SubwordTokenizer
from rnngen.data.word_tokenizer import WordTokenizer

# "type" (= tokenizer.kind) -> class with `from_text`, `from_chunks` and `from_json`.
# SubwordTokenizer imports sentencepiece only when one is built or restored.
TOKENIZERS = {cls.type_name: cls for cls in (CharTokenizer, ByteTokenizer, WordTokenizer, SubwordTokenizer)}


def build_tokenizer(tokenizer_config, train_text: str):
    """Learns the tokenizer `tokenizer_config.kind` names from the training split's text."""
    return learn_tokenizer(tokenizer_config, [train_text])


def learn_tokenizer(tokenizer_config, train_pieces):
    """Learns the tokenizer `tokenizer_config.kind` names from the training split's text, given as
    str pieces (:mod:`rnngen.data.chunks`), each ending at a line end."""
    cls = TOKENIZERS.get(tokenizer_config.kind)
    if cls is None:
        raise DataError(
            f"unknown tokenizer kind {tokenizer_config.kind!r}: known kinds are {sorted(TOKENIZERS)}, "
            "e.g. --config.tokenizer.kind=char"
        )
    return cls.from_chunks(train_pieces, tokenizer_config)


def tokenizer_from_json(d: dict):
    """Returns the tokenizer described by `d` (from a `to_json()` call)."""
    cls = TOKENIZERS.get(d.get("type"))
    if cls is None:
        raise DataError(f"unknown tokenizer type {d.get('type')!r}: known types are {sorted(TOKENIZERS)}")
    return cls.from_json(d)
