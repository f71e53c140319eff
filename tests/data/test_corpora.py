"""The standard corpora's protocols: split files in their layouts, pre-tokenized words, bytes."""

import os

import numpy as np
import pytest
from ml_collections import ConfigDict

from rnngen.config import base_config
from rnngen.data.byte_tokenizer import ByteTokenizer
from rnngen.data.corpus import encode_split
from rnngen.data.sources import load_splits
from rnngen.data.tokenizers import learn_tokenizer
from rnngen.data.errors import DataError
from rnngen.data.split_files import LAYOUTS
from rnngen.data.tokenizers import tokenizer_from_json
from rnngen.data.word_tokenizer import EOS, WordTokenizer

# Three lines as WikiText writes them: a leading space, <unk>, @-@, 's, an empty line.
WIKI_TRAIN = " = Valkyria Chronicles = \n \n Senjō no <unk> 3 @-@ Sega 's game . \n"
WIKI_VALID = " The game 's <unk> is new . \n"
WIKI_TEST = " Sega 's game . \n"


def write_layout(directory, names, texts=(WIKI_TRAIN, WIKI_VALID, WIKI_TEST)):
    os.makedirs(directory, exist_ok=True)
    for name, text in zip(names, texts):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
    return str(directory)


def config_for(**data):
    config = base_config()
    config.data.update(data)
    return config


@pytest.mark.parametrize("names", LAYOUTS, ids=[names[0] for names in LAYOUTS])
def test_each_standard_layout_is_read_as_its_three_splits(tmp_path, names):
    config = config_for(source="splits", path=write_layout(tmp_path, names))
    texts = load_splits(config.data)
    assert texts == {"train": WIKI_TRAIN, "validation": WIKI_VALID, "test": WIKI_TEST}


def test_three_split_paths_are_read_and_all_three_are_needed(tmp_path):
    directory = write_layout(tmp_path, ("a.txt", "b.txt", "c.txt"))
    paths = {key: os.path.join(directory, name) for key, name in
             zip(("train_path", "validation_path", "test_path"), ("a.txt", "b.txt", "c.txt"))}
    texts = load_splits(config_for(source="splits", **paths).data)
    assert texts["validation"] == WIKI_VALID
    del paths["test_path"]
    with pytest.raises(DataError, match="also pass --config.data.test_path"):
        load_splits(config_for(source="splits", **paths).data)


def test_a_directory_without_a_layout_names_the_layouts(tmp_path):
    (tmp_path / "corpus.txt").write_text("text\n")
    with pytest.raises(DataError, match="none of the split layouts .*train.txt, valid.txt, test.txt"):
        load_splits(config_for(source="splits", path=str(tmp_path)).data)


def test_joining_split_files_into_one_text_is_refused_naming_the_split_source(tmp_path):
    """The silent test-on-train path: source 'text' on train/valid/test.txt joined them sorted
    (test, train, valid) and cut the join 90/5/5, so the model trained on the test text."""
    directory = write_layout(tmp_path / "wikitext", LAYOUTS[0])
    with pytest.raises(DataError, match=f"source=splits --config.data.path={directory}"):
        load_splits(config_for(source="text", path=str(tmp_path)).data)


def pretokenized(**changes):
    return ConfigDict({"kind": "word", "lowercase": False, "min_count": 1, "max_size": 0, "pretokenized": True,
                       "unk_token": "<unk>", **changes})


def test_pretokenized_words_count_the_corpus_own_tokens_with_eos_at_every_line():
    tokenizer = WordTokenizer.from_text(WIKI_TRAIN, pretokenized())
    # whitespace tokens of each line, and one <eos> per line (the empty line's too): 4+1, 0+1, 9+1
    assert len(tokenizer.encode(WIKI_TRAIN)) == 16
    tokens = tokenizer.tokenize(WIKI_TRAIN)
    assert tokens[:5] == ["=", "Valkyria", "Chronicles", "=", EOS] and tokens[5] == EOS
    assert "@-@" in tokens and "'s" in tokens and "<unk>" in tokens
    ids, starts = tokenizer.encode_with_offsets(WIKI_TRAIN)
    assert len(ids) == len(starts) == 16 and WIKI_TRAIN[starts[7]:].startswith("no <unk>")
    # the last line of a text without its newline ends with <eos> too, as PyTorch reads lines
    assert tokenizer.tokenize("Sega 's game") == ["Sega", "'s", "game", EOS]


def test_the_corpus_unknown_token_is_the_unknown_id_and_decodes_back_to_itself():
    tokenizer = WordTokenizer.from_text(WIKI_TRAIN, pretokenized())
    assert "<unk>" not in tokenizer.tokens
    ids = tokenizer.encode(WIKI_VALID)
    assert ids[3] == tokenizer.unk_id == 0  # the corpus's <unk>
    assert ids[0] == tokenizer.unk_id and ids[1] != tokenizer.unk_id  # "The" is not in train, "game" is
    assert tokenizer.decode(tokenizer.encode(WIKI_TRAIN)) == (
        "= Valkyria Chronicles =\n\nSenjō no <unk> 3 @-@ Sega 's game .\n")
    assert tokenizer.unknown_tokens("Sega <unk> Nintendo") == ["Nintendo"]
    restored = tokenizer_from_json(tokenizer.to_json())
    assert restored.decode(ids) == tokenizer.decode(ids) and restored.pretokenized


def test_a_configured_unknown_token_is_the_corpus_own():
    tokenizer = WordTokenizer.from_text("a <UNK> b\n", pretokenized(unk_token="<UNK>"))
    assert tokenizer.encode("a <UNK> b\n").tolist()[1] == 0 and tokenizer.decode([0]) == "<UNK>"
    with pytest.raises(DataError, match="unk_token"):
        WordTokenizer.from_text("a\n", pretokenized(unk_token="two words"))


def test_the_raw_text_word_tokenizer_stays_readable():
    raw = WordTokenizer.from_text(WIKI_TRAIN, pretokenized(pretokenized=False))
    assert raw.tokenize("Sega 's <unk>") == ["Sega", "'", "s", "<", "unk", ">"]


def test_bytes_round_trip_exactly_and_count_bytes_for_bits_per_character():
    data = bytes(range(256)) + "caf\u00e9".encode("utf-8") + b"\xff\xfe"
    text = data.decode("utf-8", "surrogateescape")
    tokenizer = ByteTokenizer.from_text(text)
    ids, starts = tokenizer.encode_with_offsets(text)
    assert tokenizer.vocab_size == 256 and tokenizer.decode_bytes(ids) == data
    assert np.array_equal(ids, np.frombuffer(data, np.uint8))
    assert starts[-3] == starts[-4] == len(text) - 3  # é's two bytes start at its character
    assert encode_split(tokenizer, text).num_chars == len(data) - 1  # every predicted byte
    assert tokenizer.unknown_tokens(text) == [] and tokenizer.decode(ids[-2:]) == "\ufffd\ufffd"


def test_the_byte_source_cuts_the_file_at_byte_counts(tmp_path):
    path = tmp_path / "enwik8"
    data = ("<page>caf\u00e9 " * 40).encode("utf-8")
    path.write_bytes(data)
    config = config_for(source="bytes", path=str(path), split_bytes=(300, 50, 50))
    config.tokenizer.kind = "byte"
    texts = load_splits(config.data)
    tokenizer = learn_tokenizer(config.tokenizer, [texts["train"]])
    pieces = [tokenizer.decode_bytes(tokenizer.encode(texts[s])) for s in ("train", "validation", "test")]
    assert pieces == [data[:300], data[300:350], data[350:400]]
    with pytest.raises(DataError, match="fewer than the 1,000 that data.split_bytes"):
        load_splits(config_for(source="bytes", path=str(path), split_bytes=(900, 50, 50)).data)
