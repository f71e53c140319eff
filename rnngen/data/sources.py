"""One entry point from a data config to its corpus: {"train", "validation", "test"} as chunks."""

from __future__ import annotations

import hashlib
import json

from rnngen.data.chunks import Corpus, in_memory, whole_text
from rnngen.data.errors import DataError
from rnngen.data.split_files import byte_splits_corpus, split_files_corpus
from rnngen.data.stdlib_corpus import load_stdlib_splits
from rnngen.data.text_files import text_corpus


def in_memory_corpus(source: str, texts: dict[str, str]) -> Corpus:
    """A corpus of small texts already read; its identity is their digest."""
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest()
    return Corpus({name: in_memory(text) for name, text in texts.items()}, {"source": source, "sha256": digest})


def _tiny_shakespeare(cfg) -> Corpus:
    # Imported here so that users of the other sources never import TFDS.
    from rnngen.data.tiny_shakespeare import load_tiny_shakespeare

    # The catalog's fixed 90/5/5 split; `split_fractions` does not apply.
    return in_memory_corpus("tiny_shakespeare", load_tiny_shakespeare(cfg.data_dir, cfg.manual_dir))


def _text(cfg) -> Corpus:
    if not cfg.path:
        raise DataError("source 'text' needs --config.data.path=FILE_OR_DIR")
    return text_corpus(cfg.path, cfg.split_fractions, cfg.encoding_errors)


def _stdlib(cfg) -> Corpus:
    return in_memory_corpus("stdlib", load_stdlib_splits(cfg.split_fractions, cfg.max_chars))


SOURCES = {"tiny_shakespeare": _tiny_shakespeare, "text": _text, "splits": split_files_corpus,
           "bytes": byte_splits_corpus, "stdlib": _stdlib}


def load_source(data_config) -> Corpus:
    """The corpus of `data_config`: its attributes `source` (a key of `SOURCES`), `path`, the
    `*_path` of each split, `manual_dir`, `data_dir`, `split_fractions`, `split_bytes` and
    `max_chars` say which and how it is split."""
    loader = SOURCES.get(data_config.source)
    if loader is None:
        raise DataError(
            f"unknown data source {data_config.source!r}: use one of "
            f"{sorted(SOURCES)} (--config.data.source=NAME)"
        )
    return loader(data_config)


def load_splits(data_config) -> dict[str, str]:
    """{"train", "validation", "test"} texts of `data_config`, each whole (small corpora: the
    studies in scripts/, tests); training reads them as chunks through :func:`load_source`."""
    texts = {name: whole_text(chunks) for name, chunks in load_source(data_config).splits.items()}
    if not texts["validation"]:
        raise DataError(
            f"the validation split of source {data_config.source!r} is empty: "
            "use a larger corpus or a larger validation fraction in "
            "--config.data.split_fractions"
        )
    return texts
