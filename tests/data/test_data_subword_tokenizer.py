"""SubwordTokenizer: exact round trips, offsets, vocab-size errors, JSON, lazy import."""

import json
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from rnngen.data import DataError, SubwordTokenizer, build_tokenizer, tokenizer_from_json
from rnngen.data.subword_tokenizer import MAX_CHUNK, _cut_long

LINES = [
    "FIRST CITIZEN:",
    "Before we proceed any further, hear me speak.",
    "ALL:",
    "Speak, speak.",
    "You are all resolved rather to die than to famish?",
    "We know't, we know't; let us kill him, and we'll have corn at our own price.",
    "SECOND CITIZEN:",
    "One word, good citizens: would you proceed especially against Caius Marcius?",
    "What authority surfeits on would relieve us: if they would yield us but the superfluity,",
    "while it were wholesome, we might guess they relieved us humanely;",
    "but they think we are too dear: the leanness that afflicts us,",
    "the object of our misery, is as an inventory to particularise their abundance.",
    "MENENIUS:",
    "Why, masters, my good friends, mine honest neighbours, will you undo yourselves?",
]
# About 5,000 characters: the lines in varied orders, some indented and numbered.
TRAIN = "".join(f"{'  ' * (i % 3)}{LINES[(7 * i) % 13]} {i % 10}\n{LINES[i % 14]}\n\n" for i in range(60))
TRICKY = (
    "  leading spaces\n\nFIRST  CITIZEN:\tdouble  spaces and tabs\t\n"
    "Unseen: ü, é, 你好, 🎭, \u0000, \r\n, \u2028 and \u3000 wide   \n"
    "Markers: \u2581 \u2581\u2581word \ue000 \ue000\n <unk> <0x41> trailing  "
)


def config(**overrides) -> ml_collections.ConfigDict:
    fields = dict(kind="subword", lowercase=False, min_count=1, max_size=0, vocab_size=400, subword_model="bpe")
    return ml_collections.ConfigDict({**fields, **overrides})


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def tok(request) -> SubwordTokenizer:
    return SubwordTokenizer.from_text(TRAIN, config(subword_model=request.param))


def test_sizes_and_merges(tok):
    assert tok.vocab_size == 400 and tok.unk_id == 0
    ids = tok.encode(TRAIN)
    assert ids.dtype == np.int32 and 0 < ids.min() and ids.max() < 400
    assert len(ids) < 0.7 * len(TRAIN)  # learned pieces are longer than characters


@pytest.mark.parametrize("text", [TRAIN, TRICKY, "", "\n", "\n\n x \n", "\u2581", "\ue000", " ", "🎭"])
def test_round_trip_is_exact(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_each_newline_is_one_token(tok):
    ids = tok.encode("ALL:\n\n\nSpeak")
    assert sum(tok.decode([i]) == "\n" for i in ids) == 3


def test_offsets_cover_each_token_text(tok):
    ids, starts = tok.encode_with_offsets(TRICKY)
    np.testing.assert_array_equal(ids, tok.encode(TRICKY))
    assert starts.dtype == np.int64 and starts[0] == 0 and np.all(np.diff(starts) >= 0)
    bounds = [*np.unique(starts).tolist(), len(TRICKY)]
    for begin, end in zip(bounds[:-1], bounds[1:]):  # tokens sharing a start: one character's bytes
        assert tok.decode(ids[starts == begin]) == TRICKY[begin:end]


def test_byte_pieces_of_an_unseen_character_share_its_offset(tok):
    ids, starts = tok.encode_with_offsets("a🎭b")
    assert len(ids) == 6 and starts.tolist() == [0, 1, 1, 1, 1, 2]
    assert tok.decode(ids[1:5]) == "🎭" and tok.decode(ids[1:3]) == "\ufffd"


def test_nothing_is_unknown(tok):
    assert tok.unknown_tokens(TRICKY) == []
    assert tok.unk_id not in tok.encode(TRICKY)


def test_json_round_trip_through_registry(tok):
    d = json.loads(json.dumps(tok.to_json()))
    assert d["type"] == "subword"
    again = tokenizer_from_json(d)
    assert isinstance(again, SubwordTokenizer) and again.vocab_size == tok.vocab_size
    np.testing.assert_array_equal(again.encode(TRICKY), tok.encode(TRICKY))
    assert again.decode(tok.encode(TRICKY)) == TRICKY


def test_training_is_deterministic_and_tolerates_marker_characters():
    text = TRAIN + "a \u2581 b \ue000 c\n"
    first = build_tokenizer(config(), text)
    assert first.to_json() == build_tokenizer(config(), text).to_json()
    assert first.decode(first.encode(text)) == text


def test_long_lines_are_cut_before_single_spaces():
    line = ("word " * 600) + "x" * 2500
    pieces = _cut_long(line)
    assert "".join(pieces) == line and max(map(len, pieces)) <= MAX_CHUNK
    assert all(p.startswith(" ") for p in pieces[1:3]) and pieces[3] == " " + "x" * (MAX_CHUNK - 1)
    tok = SubwordTokenizer.from_text(TRAIN.replace("\n", " ") * 3, config())
    ids, starts = tok.encode_with_offsets(line)
    assert tok.decode(ids) == line and np.all(np.diff(starts) >= 0)


@pytest.mark.parametrize(
    ("vocab_size", "message"),
    [
        (300, r"vocab_size=300 is too small .* it needs \d+ \(256 byte pieces.*--config\.tokenizer\.vocab_size="),
        (5000, r"vocab_size=5000 is too large .* at most \d+ pieces; use e\.g\. --config\.tokenizer\.vocab_size=\d+"),
    ],
)
@pytest.mark.parametrize("model", ["bpe", "unigram"])
def test_vocab_size_errors(vocab_size, message, model):
    with pytest.raises(DataError, match=message):
        SubwordTokenizer.from_text(TRAIN, config(vocab_size=vocab_size, subword_model=model))


def test_other_errors():
    with pytest.raises(DataError, match="subword_model='wordpiece' is unknown"):
        SubwordTokenizer.from_text(TRAIN, config(subword_model="wordpiece"))
    with pytest.raises(DataError, match="no text besides newlines"):
        SubwordTokenizer.from_text("\n\n", config())
    with pytest.raises(DataError, match="unpaired surrogate at character 2"):
        SubwordTokenizer.from_text(TRAIN, config()).encode("ab\ud800")


def test_char_and_word_users_never_import_sentencepiece():
    code = (
        "import sys, ml_collections; from rnngen.data import build_tokenizer, tokenizer_from_json\n"
        "for kind in ('char', 'word'):\n"
        "    c = ml_collections.ConfigDict(dict(kind=kind, lowercase=False, min_count=1, max_size=0, pretokenized=False, unk_token='<unk>'))\n"
        "    tokenizer_from_json(build_tokenizer(c, 'to be\\n').to_json())\n"
        "assert 'sentencepiece' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("model_proto", ["", "aGVsbG8=", "not base64!"])
def test_bad_stored_model(model_proto):
    with pytest.raises(DataError, match="model"):
        tokenizer_from_json({"type": "subword", "model_proto": model_proto})
