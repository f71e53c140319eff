"""WordTokenizer: regex tokens, vocabulary rules, readable decoding, offsets, JSON."""

import json

import ml_collections
import numpy as np
import pytest

from rnngen.config import base_config
from rnngen.data import DataError, WordTokenizer, build_tokenizer, tokenizer_from_json

SPEECH = "KING HENRY:\nI'll go, my lord!\n"


def config(**overrides) -> ml_collections.ConfigDict:
    tokenizer = base_config().tokenizer
    tokenizer.update({"kind": "word", **overrides})
    return tokenizer


def test_tokens_keep_newlines_punctuation_and_internal_apostrophes():
    tok = WordTokenizer.from_text(SPEECH, config())
    assert tok.tokenize(SPEECH) == ["KING", "HENRY", ":", "\n", "I'll", "go", ",", "my", "lord", "!", "\n"]
    assert tok.tokenize("o'er  the\t'tis--well-met \r\n") == ["o'er", "the", "'", "tis", "-", "-", "well", "-", "met", "\n"]


def test_speech_round_trips_exactly():
    tok = WordTokenizer.from_text(SPEECH, config())
    ids = tok.encode(SPEECH)
    assert ids.dtype == np.int32 and ids.shape == (11,) and ids.min() >= 1
    assert tok.decode(ids) == SPEECH


@pytest.mark.parametrize(
    "text",
    [
        "Nay, (quoth he) 'tis so; o' the king's [men]...\nYea?",
        'He said "go home" and well-beloved friends,\' quoth he.\n\nEnd',
        "Hang 'em, and 'tis done; o' the lovers' side, to 't.\n",
    ],
)
def test_decode_spacing_rules(text):
    tok = WordTokenizer.from_text(text, config())
    assert tok.decode(tok.encode(text)) == text


def test_decode_normalises_whitespace_and_writes_unk():
    tok = WordTokenizer.from_text("to be or not\n", config())
    assert tok.decode(tok.encode("  to\tbe \n  or   never ")) == "to be\nor <unk>"


def test_vocabulary_order_min_count_and_max_size():
    text = "b a c a b a d\n"  # a:3 b:2 then c d "\n" once each
    assert WordTokenizer.from_text(text, config()).tokens == ["a", "b", "\n", "c", "d"]
    assert WordTokenizer.from_text(text, config(min_count=2)).tokens == ["a", "b"]
    capped = WordTokenizer.from_text(text, config(max_size=3))
    assert capped.tokens == ["a", "b"] and capped.vocab_size == 3
    np.testing.assert_array_equal(capped.encode("a c b zz"), [1, 0, 2, 0])
    assert capped.unknown_tokens("d a c d zz") == ["c", "d", "zz"]


def test_lowercase():
    tok = WordTokenizer.from_text("The the THE cat\n", config(lowercase=True))
    assert tok.tokens == ["the", "\n", "cat"]
    np.testing.assert_array_equal(tok.encode("tHe CAT Dog"), [1, 3, 0])
    assert tok.unknown_tokens("Dog DOG cat") == ["dog"]
    assert WordTokenizer.from_text("The the", config()).vocab_size == 3


def test_offsets_point_at_first_characters_in_original_text():
    text = "  İstanbul's ÉTÉ,\n\tnaïve  go!"
    tok = WordTokenizer.from_text(text, config(lowercase=True))
    ids, starts = tok.encode_with_offsets(text)
    np.testing.assert_array_equal(ids, tok.encode(text))
    assert starts.dtype == np.int64 and np.all(np.diff(starts) > 0)
    original = [text[s : s + len(t)] for s, t in zip(starts, WordTokenizer.from_text(text, config()).tokenize(text))]
    assert original == ["İstanbul's", "ÉTÉ", ",", "\n", "naïve", "go", "!"]


def test_empty_text_and_out_of_range_ids():
    tok = WordTokenizer.from_text(SPEECH, config())
    ids, starts = tok.encode_with_offsets("")
    assert ids.shape == starts.shape == (0,) and tok.decode([]) == ""
    with pytest.raises(DataError, match="outside"):
        tok.decode([tok.vocab_size])


def test_json_round_trip_through_registry():
    tok = build_tokenizer(config(lowercase=True, max_size=6), SPEECH * 3 + "extra words")
    d = json.loads(json.dumps(tok.to_json()))
    assert d["type"] == "word"
    again = tokenizer_from_json(d)
    assert isinstance(again, WordTokenizer) and again.vocab_size == tok.vocab_size == 6
    probe = SPEECH + "Unseen WORDS, lord."
    np.testing.assert_array_equal(again.encode(probe), tok.encode(probe))
    assert again.decode(again.encode(probe)) == tok.decode(tok.encode(probe))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(min_count=0), "min_count=0 must be >= 1"),
        (dict(max_size=1), "max_size=1 must be 0"),
        (dict(min_count=99), "no word occurs min_count=99 times"),
    ],
)
def test_bad_settings_raise_data_errors(overrides, message):
    with pytest.raises(DataError, match=message):
        WordTokenizer.from_text(SPEECH, config(**overrides))


def test_unknown_kind():
    with pytest.raises(DataError, match=r"unknown tokenizer kind 'bytes'.*\['byte', 'char', 'subword', 'word'\]"):
        build_tokenizer(config(kind="bytes"), SPEECH)
