"""Figures of each tokenizer on a corpus's training split, printed as a table and one JSON line.

For char, word (cased and lowercased) and subword (bpe, unigram) tokenizers:
vocabulary size, tokens, characters per token, time to learn the vocabulary and
to encode, and the fraction of lines that decode back exactly.

    python scripts/tokenizer_stats.py --manual-dir ../shared/data/tinyshakespeare
"""

from __future__ import annotations

import argparse
import json
import os
import time

from rnngen.config import base_config
from rnngen.data.sources import load_splits
from rnngen.data.tokenizers import build_tokenizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "char": {"kind": "char"},
    "word": {"kind": "word"},
    "word_lowercase": {"kind": "word", "lowercase": True},
    "subword_bpe_2000": {"kind": "subword", "subword_model": "bpe", "vocab_size": 2000},
    "subword_unigram_2000": {"kind": "subword", "subword_model": "unigram", "vocab_size": 2000},
}


def measure(train_text: str, settings: dict) -> dict:
    """One tokenizer's figures on ``train_text``."""
    tokenizer_config = base_config().tokenizer
    tokenizer_config.update(settings)
    started = time.perf_counter()
    tokenizer = build_tokenizer(tokenizer_config, train_text)
    learned = time.perf_counter()
    ids = tokenizer.encode(train_text)
    encoded = time.perf_counter()
    lines = train_text.split("\n")
    exact = sum(tokenizer.decode(tokenizer.encode(line)) == line for line in lines)
    return {
        "vocab_size": tokenizer.vocab_size, "tokens": len(ids), "chars_per_token": len(train_text) / len(ids),
        "learn_s": learned - started, "encode_s": encoded - learned, "exact_lines": exact / len(lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manual-dir", default=os.path.join(REPO, "..", "shared", "data", "tinyshakespeare"))
    parser.add_argument("--data-dir", default=None, help="TFDS data dir (default: TFDS's)")
    args = parser.parse_args()
    data_config = base_config().data
    data_config.update({"manual_dir": os.path.abspath(args.manual_dir), "data_dir": args.data_dir})
    train_text = load_splits(data_config)["train"]
    results = {name: measure(train_text, settings) for name, settings in VARIANTS.items()}
    print(f"training split: {len(train_text):,} characters")
    print(f"{'tokenizer':<22}{'vocab':>8}{'tokens':>10}{'chars/token':>13}{'learn s':>9}{'encode s':>10}{'exact lines':>13}")
    for name, r in results.items():
        print(f"{name:<22}{r['vocab_size']:>8,}{r['tokens']:>10,}{r['chars_per_token']:>13.2f}"
              f"{r['learn_s']:>9.2f}{r['encode_s']:>10.2f}{100 * r['exact_lines']:>12.2f}%")
    print(json.dumps({"train_chars": len(train_text), **results}))


if __name__ == "__main__":
    main()
