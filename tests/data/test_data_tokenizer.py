"""CharTokenizer and the tokenizer registry."""

import json

import numpy as np
import pytest

from rnngen.data import CharTokenizer, DataError, tokenizer_from_json

TEXT = "To be, or not to be: that is the question. 🎭 Ünïcode\n"


def test_vocabulary_is_sorted_chars_after_unk():
    tok = CharTokenizer.from_text("cabbage")
    assert tok.unk_id == 0
    assert tok.vocab_size == 1 + len(set("cabbage"))
    np.testing.assert_array_equal(tok.encode("abceg"), [1, 2, 3, 4, 5])


def test_round_trip_is_exact_in_vocabulary():
    tok = CharTokenizer.from_text(TEXT)
    ids = tok.encode(TEXT)
    assert ids.dtype == np.int32 and ids.shape == (len(TEXT),)
    assert ids.min() >= 1 and ids.max() < tok.vocab_size
    assert tok.decode(ids) == TEXT


def test_unseen_chars_map_to_unk_and_decode_to_replacement_char():
    tok = CharTokenizer.from_text("abc")
    np.testing.assert_array_equal(tok.encode("azb€"), [1, 0, 2, 0])
    assert tok.decode(tok.encode("azb€")) == "a\ufffdb\ufffd"
    assert tok.unknown_tokens("zabz€y") == ["y", "z", "€"]
    assert tok.unknown_tokens("cab") == []


def test_empty_text_and_out_of_range_ids():
    tok = CharTokenizer.from_text("abc")
    assert tok.encode("").shape == (0,) and tok.decode([]) == ""
    with pytest.raises(DataError, match="outside"):
        tok.decode([4])


def test_json_round_trip_through_registry():
    tok = CharTokenizer.from_text(TEXT)
    d = json.loads(json.dumps(tok.to_json()))
    assert d["type"] == "char"
    again = tokenizer_from_json(d)
    assert isinstance(again, CharTokenizer)
    assert again.vocab_size == tok.vocab_size
    np.testing.assert_array_equal(again.encode(TEXT + "?"), tok.encode(TEXT + "?"))


def test_unknown_tokenizer_type():
    with pytest.raises(DataError, match="unknown tokenizer type 'bpe'.*char"):
        tokenizer_from_json({"type": "bpe"})
