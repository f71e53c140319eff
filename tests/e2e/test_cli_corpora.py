"""The standard corpora's protocols through the real command: each split-file layout with
pre-tokenized words, and the byte protocol of enwik8, trained and evaluated on files the
tests write in those layouts."""

import json
import os

import pytest

from helpers import cli_overrides, rnngen
from rnngen.data.split_files import LAYOUTS

pytestmark = pytest.mark.slow

LINE = " The <unk> of the game 's story @-@ line is told in {n} parts . \n"


def write_wikitext_like(directory, names):
    """Splits of WikiText's form: 15 tokens and an <eos> per line; test has 5 lines."""
    os.makedirs(directory)
    for name, lines in zip(names, (60, 10, 5)):
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write("".join(LINE.format(n=i % 7) for i in range(lines)))
    return str(directory)


def train_and_eval(tmp_path, config, path, **changes):
    """The protocol's own config file, made tiny."""
    workdir = str(tmp_path / "run")
    rnngen("train", "--config", config, "--workdir", workdir, *cli_overrides(path, **{"train.num_steps": 3, **changes}))
    result = rnngen("eval", "--workdir", workdir, "--split", "test", "--json")
    return result.stdout.strip().splitlines()


@pytest.mark.parametrize("names", LAYOUTS, ids=[names[0] for names in LAYOUTS])
def test_a_standard_layout_trains_and_evaluates_per_corpus_token(tmp_path, names):
    corpus = write_wikitext_like(tmp_path / "corpus", names)
    *_, summary, last = train_and_eval(tmp_path, "configs/wikitext2_word.py:tied", corpus, **{"data.source": "splits"})
    metrics = json.loads(last)
    assert metrics["tokens"] == 5 * 16 - 1  # the test split's corpus tokens, <eos> included, but the first
    assert metrics["unk_rate"] == pytest.approx(5 / (5 * 16 - 1))  # the corpus's <unk>, once a line
    assert "bits/char" in summary


def test_the_byte_protocol_reports_bits_per_byte(tmp_path):
    path = tmp_path / "enwik8"
    path.write_bytes(("<page><title>Caf\u00e9</title>" * 70).encode("utf-8") + b"\xff")
    *_, summary, last = train_and_eval(tmp_path, "configs/enwik8_byte.py:quick", str(path),
                                       **{"data.source": "bytes", "data.split_bytes": "(1200,200,200)"})
    metrics = json.loads(last)
    assert metrics["unit"] == "byte" and metrics["tokens"] == 199 and metrics["characters"] == 199
    assert "bits/byte" in summary and "199 bytes" in summary
