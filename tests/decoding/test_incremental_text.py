"""Streamed text pieces join into exactly the whole decoded text, for every tokenizer."""

import random

import pytest

from rnngen.data.char_tokenizer import CharTokenizer
from rnngen.data.word_tokenizer import WordTokenizer
from rnngen.decoding.incremental_text import IncrementalText
from rnngen.decoding.stop_strings import cut_at_stop

# Byte pieces that split multi-byte characters (é, €) and an invalid byte.
PIECES = [b"\xc3", b"\xa9", b"a", b"\xe2\x82", b"\xac", b"\xff", b" b", b"\n"]


class BytePieces:
    type_name = "subword"
    piece_bytes = tuple(PIECES)

    def decode(self, ids):
        return b"".join(PIECES[i] for i in ids).decode("utf-8", "replace")


def streamed(tokenizer, ids, block, stops=()):
    text = IncrementalText(tokenizer, stops)
    pieces = [text.push(ids[i:i + block]) for i in range(0, len(ids), block)]
    return "".join(pieces + [text.finish()])


@pytest.mark.parametrize("block", [1, 2, 3, 7])
def test_subword_pieces_split_inside_characters(block):
    rng = random.Random(block)
    for _ in range(20):
        ids = [rng.randrange(len(PIECES)) for _ in range(rng.randrange(1, 30))]
        assert streamed(BytePieces(), ids, block) == BytePieces().decode(ids)


@pytest.mark.parametrize("block", [1, 2, 5])
def test_word_spacing_is_settled_before_it_is_printed(block):
    words = WordTokenizer(["KING", "HENRY", ":", "\n", "I'll", "go", ",", "my", "lord", "!", "'", "tis", '"', "(", ")", "hang", "em"])
    text = "KING HENRY:\nI'll go, my lord! 'tis \"my lord\" (go) hang 'em, lord' go\n"
    ids = words.encode(text).tolist()
    assert streamed(words, ids, block) == words.decode(ids)


@pytest.mark.parametrize("block", [1, 3, 4])
def test_the_stream_is_cut_before_a_stop_string(block):
    chars = CharTokenizer(sorted(set("abc\n")))
    for text in ["abc\n\nabc", "ab\nc\n", "aaa\n", "\n\nab"]:
        ids = chars.encode(text).tolist()
        for stops in (["\n\n"], ["c\n", "bb"], ["zz"]):
            assert streamed(chars, ids, block, stops) == cut_at_stop(text, stops)[0]
