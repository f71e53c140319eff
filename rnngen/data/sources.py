"""One entry point from a data config to {"train", "validation", "test"} texts."""

from __future__ import annotations

from rnngen.data.errors import DataError
from rnngen.data.split_files import load_byte_splits, load_split_files
from rnngen.data.stdlib_corpus import load_stdlib_splits
from rnngen.data.text_files import load_text_splits


def _tiny_shakespeare(cfg) -> dict[str, str]:
    # Imported here so that users of the other sources never import TFDS.
    from rnngen.data.tiny_shakespeare import load_tiny_shakespeare

    # The catalog's fixed 90/5/5 split; `split_fractions` does not apply.
    return load_tiny_shakespeare(cfg.data_dir, cfg.manual_dir)


def _text(cfg) -> dict[str, str]:
    if not cfg.path:
        raise DataError("source 'text' needs --config.data.path=FILE_OR_DIR")
    return load_text_splits(cfg.path, cfg.split_fractions, cfg.encoding_errors)


def _stdlib(cfg) -> dict[str, str]:
    return load_stdlib_splits(cfg.split_fractions, cfg.max_chars)


SOURCES = {"tiny_shakespeare": _tiny_shakespeare, "text": _text, "splits": load_split_files, "bytes": load_byte_splits, "stdlib": _stdlib}


def load_splits(data_config) -> dict[str, str]:
    """Returns {"train", "validation", "test"} texts for `data_config`.

    `data_config` has attributes `source` (a key of `SOURCES`), `path`, the
    `*_path` of each split, `manual_dir`, `data_dir`, `split_fractions` and `max_chars`.
    """
    loader = SOURCES.get(data_config.source)
    if loader is None:
        raise DataError(
            f"unknown data source {data_config.source!r}: use one of "
            f"{sorted(SOURCES)} (--config.data.source=NAME)"
        )
    splits = loader(data_config)
    if not splits["validation"]:
        raise DataError(
            f"the validation split of source {data_config.source!r} is empty: "
            "use a larger corpus or a larger validation fraction in "
            "--config.data.split_fractions"
        )
    return splits
