"""Corpora whose splits are fixed by their publishers: one file per split, or byte ranges.

``data.source=splits`` takes ``data.train_path``, ``data.validation_path`` and
``data.test_path``, or ``data.path=DIR`` holding one of :data:`LAYOUTS`. The files are
the splits as published (no joining, no cutting), so results compare with the tables
measured on them; the vocabulary is learned from the training file alone.
``data.source=bytes`` cuts one file at byte counts, the enwik8 and text8 protocol.
"""

from __future__ import annotations

import os

from rnngen.data.chunks import (
    Corpus,
    check_encoding_errors,
    file_chunks,
    files_identity,
    line_aligned,
)
from rnngen.data.errors import DataError
from rnngen.data.splitting import SPLIT_NAMES

# (train, validation, test) file names of the standard layouts, in the order they are tried.
LAYOUTS = (
    ("train.txt", "valid.txt", "test.txt"),  # PyTorch's word_language_model data, AWD-LSTM's
    ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),  # WikiText-2 / -103
    ("wiki.train.raw", "wiki.valid.raw", "wiki.test.raw"),  # WikiText's raw variant
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),  # Mikolov's Penn Treebank
)
SPLIT_KEYS = ("train_path", "validation_path", "test_path")


def find_layout(directory: str) -> tuple[str, str, str] | None:
    """The (train, validation, test) paths of the first layout ``directory`` holds in full, or None."""
    for names in LAYOUTS:
        paths = tuple(os.path.join(directory, name) for name in names)
        if all(os.path.isfile(p) for p in paths):
            return paths
    return None


def split_paths(data_config) -> tuple[str, str, str]:
    """The three split files the config names: its ``*_path`` keys, or a layout in ``data.path``."""
    given = [data_config.get(key) for key in SPLIT_KEYS]
    if any(given):
        if not all(given):
            missing = ", ".join(f"--config.data.{k}" for k, v in zip(SPLIT_KEYS, given) if not v)
            raise DataError(f"source 'splits' needs all three split files: also pass {missing}")
        return tuple(given)
    if not data_config.path:
        raise DataError("source 'splits' needs --config.data.path=DIR (a standard layout) or "
                        "--config.data.train_path, validation_path and test_path")
    if not os.path.isdir(data_config.path):
        raise DataError(f"{data_config.path} is not a directory: source 'splits' needs --config.data.path=DIR "
                        "holding train.txt, valid.txt and test.txt (or pass the three *_path keys)")
    paths = find_layout(data_config.path)
    if paths is None:
        known = "; ".join(", ".join(names) for names in LAYOUTS)
        raise DataError(f"{data_config.path} holds none of the split layouts ({known}): "
                        "pass the files with --config.data.train_path, validation_path and test_path")
    return paths


def split_files_corpus(data_config) -> Corpus:
    """{"train", "validation", "test"}, each its own file, read as ``data.encoding_errors`` says."""
    check_encoding_errors(data_config.encoding_errors)
    paths = split_paths(data_config)
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"split file {path} does not exist: check --config.data.path or the *_path keys")
    errors = data_config.encoding_errors
    splits = {name: (lambda p=path: line_aligned(file_chunks(p, errors))) for name, path in zip(SPLIT_NAMES, paths)}
    return Corpus(splits, {"source": "splits", "files": files_identity(paths), "encoding_errors": errors})


def byte_splits_corpus(data_config) -> Corpus:
    """The enwik8 / text8 protocol: the first ``data.split_bytes`` (train, validation, test) bytes
    of the file ``data.path``, in that order. Bytes that are not UTF-8 stay as lone surrogates
    (``surrogateescape``), so the byte tokenizer sees the file's exact bytes."""
    sizes = tuple(int(n) for n in data_config.split_bytes)
    if len(sizes) != 3 or min(sizes) < 0 or sizes[0] == 0:
        raise DataError(f"data.split_bytes={sizes} is invalid: give 3 byte counts (train, validation, test), "
                        "train > 0, e.g. --config.data.split_bytes='(90000000, 5000000, 5000000)'")
    path = data_config.path
    if not path or not os.path.isfile(path):
        raise DataError(f"source 'bytes' needs --config.data.path=FILE (e.g. enwik8), got {path!r}")
    size = os.path.getsize(path)
    if size < sum(sizes):
        raise DataError(f"{path} has {size:,} bytes, fewer than the {sum(sizes):,} that "
                        f"data.split_bytes={sizes} takes: pass smaller --config.data.split_bytes")
    bounds = (0, sizes[0], sizes[0] + sizes[1], sum(sizes))
    splits = {name: (lambda a=a, b=b: line_aligned(file_chunks(path, start=a, stop=b, errors_codec="surrogateescape")))
              for name, a, b in zip(SPLIT_NAMES, bounds, bounds[1:])}
    return Corpus(splits, {"source": "bytes", "files": files_identity([path]), "split_bytes": list(sizes)})
