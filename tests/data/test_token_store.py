"""Token ids prepared once per corpus and tokenizer setting, read piece by piece, memory-mapped later."""

import os

import numpy as np
import pytest

from rnngen.config import base_config
from rnngen.data import chunks
from rnngen.data.corpus import encode_split
from rnngen.data.errors import DataError
from rnngen.data.token_store import prepare_splits

TEXT = "".join(f"KING {i % 7}: caf\u00e9 \u00e0 <unk> l'air {i % 13} \U0001f600.\n" for i in range(400))


def config_for(tmp_path, kind="char", **tokenizer):
    config = base_config()
    config.data.update(source="text", path=str(tmp_path / "corpus.txt"), cache_dir=str(tmp_path / "cache"))
    config.tokenizer.update(kind=kind, **tokenizer)
    if kind == "subword":
        config.tokenizer.vocab_size = 300
    return config


@pytest.mark.parametrize("kind, tokenizer", [("char", {}), ("byte", {}), ("word", {}),
                                             ("word", {"pretokenized": True}), ("subword", {})])
def test_ids_encoded_piece_by_piece_equal_the_whole_text_encoded(tmp_path, monkeypatch, kind, tokenizer):
    (tmp_path / "corpus.txt").write_text(TEXT, encoding="utf-8")
    config = config_for(tmp_path, kind, **tokenizer)
    whole_tokenizer, whole = prepare_splits(config.data, config.tokenizer, names=("train", "validation", "test"))
    monkeypatch.setattr(chunks, "READ_BYTES", 37)  # pieces that cut characters and lines
    config.data.cache_dir = str(tmp_path / "other_cache")
    tokenizer, pieces = prepare_splits(config.data, config.tokenizer, names=("train", "validation", "test"))
    assert tokenizer.to_json() == whole_tokenizer.to_json()
    n = len(TEXT)
    texts = {"train": TEXT[: int(n * 0.9)], "validation": TEXT[int(n * 0.9): int(n * 0.9) + int((n - int(n * 0.9)) * 0.5)]}
    for name, text in texts.items():
        expected = encode_split(tokenizer, text)
        assert np.array_equal(np.asarray(pieces[name].ids), expected.ids)
        assert np.array_equal(np.asarray(whole[name].ids), expected.ids)
        assert pieces[name].num_chars == whole[name].num_chars == expected.num_chars


def test_a_second_run_reads_the_prepared_ids_and_a_changed_file_is_prepared_again(tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT, encoding="utf-8")
    config = config_for(tmp_path)
    _, first = prepare_splits(config.data, config.tokenizer)
    assert isinstance(first["train"].ids, np.memmap) and first["train"].ids.dtype == np.uint16
    (directory,) = os.listdir(tmp_path / "cache")
    files = sorted(os.listdir(tmp_path / "cache" / directory))
    stamps = {f: os.stat(tmp_path / "cache" / directory / f).st_mtime_ns for f in files}
    _, again = prepare_splits(config.data, config.tokenizer)
    assert stamps == {f: os.stat(tmp_path / "cache" / directory / f).st_mtime_ns for f in files}  # nothing rewritten
    assert np.array_equal(again["train"].ids, first["train"].ids)
    (tmp_path / "corpus.txt").write_text(TEXT + "more\n", encoding="utf-8")
    _, changed = prepare_splits(config.data, config.tokenizer)
    assert len(os.listdir(tmp_path / "cache")) == 2 and len(changed["train"].ids) > len(first["train"].ids)


def test_bad_bytes_are_reported_at_their_file_offset_whatever_the_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "READ_BYTES", 5)
    data = "caf\u00e9 ok ".encode("utf-8") * 3 + b"\xe9 bad"
    path = tmp_path / "corpus.txt"
    path.write_bytes(data)
    bad = data.index(b"\xe9 bad")
    with pytest.raises(DataError, match=f"byte offset {bad}:"):
        "".join(chunks.file_chunks(str(path)))


def test_byte_ranges_keep_every_byte_across_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(chunks, "READ_BYTES", 3)
    data = "\u00e9\u00e8\U0001f600".encode("utf-8") * 5 + b"\xff\xfe"
    path = tmp_path / "enwik8"
    path.write_bytes(data)
    text = "".join(chunks.file_chunks(str(path), start=1, stop=len(data), errors_codec="surrogateescape"))
    assert text.encode("utf-8", "surrogateescape") == data[1:]
