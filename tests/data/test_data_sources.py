"""Text sources: TFDS tiny_shakespeare, local text files, the stdlib corpus."""

import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from helpers import REPO
from rnngen.config import base_config
from rnngen.data import DataError, load_splits
from rnngen.data import tiny_shakespeare as ts
from rnngen.data.stdlib_corpus import load_stdlib_splits, stdlib_py_files
from rnngen.data.chunks import whole_text
from rnngen.data.text_files import text_corpus

FRACTIONS = (0.8, 0.1, 0.1)


def load_text_splits(*args):
    """The whole texts of source 'text''s splits."""
    return {name: whole_text(chunks) for name, chunks in text_corpus(*args).splits.items()}


def _config(**overrides):
    """The data section of the base config, a text source split by FRACTIONS, with ``overrides``."""
    config = base_config().data
    config.update({"source": "text", "split_fractions": FRACTIONS, **overrides})
    return config


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory, shakespeare_dir):
    """A data dir with tiny_shakespeare prepared from the manual dir."""
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    ts.load_tiny_shakespeare(data_dir, shakespeare_dir)
    return data_dir


def test_checksums_file_is_found_by_tfds():
    info = ts.TinyShakespeare.url_infos[ts.URL]
    assert (info.size, info.filename) == (1115394, "input.txt")
    assert info.checksum.startswith("86c4e6aa9db7c042")


def test_tiny_shakespeare_has_catalog_splits(tfds_dir, shakespeare_dir):
    splits = load_splits(_config(source="tiny_shakespeare", data_dir=tfds_dir))
    assert {k: len(v) for k, v in splits.items()} == {"train": 1003854, "validation": 55770, "test": 55770}
    with open(os.path.join(shakespeare_dir, "input.txt"), encoding="utf-8") as f:
        assert "".join(splits.values()) == f.read()


def test_tiny_shakespeare_second_load_reuses_prepared_data(tfds_dir, monkeypatch):
    def fail(*args):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(ts.TinyShakespeare, "_split_generators", fail)
    before = {p: os.stat(os.path.join(r, p)).st_mtime_ns for r, _, ps in os.walk(tfds_dir) for p in ps}
    assert len(ts.load_tiny_shakespeare(tfds_dir, None)["test"]) == 55770
    assert before == {
        p: os.stat(os.path.join(r, p)).st_mtime_ns for r, _, ps in os.walk(tfds_dir) for p in ps
    }


def test_loading_imports_neither_jax_nor_tensorflow(tfds_dir):
    code = (
        "import sys; from rnngen.data import tiny_shakespeare as ts; "
        f"ts.load_tiny_shakespeare({tfds_dir!r}, None); "
        "print(sorted(m for m in ('jax', 'tensorflow') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tiny_shakespeare_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="input.txt not found.*manual_dir"):
        ts.load_tiny_shakespeare(str(tmp_path / "a"), str(tmp_path))
    (tmp_path / "input.txt").write_text("not shakespeare")
    with pytest.raises(DataError, match="wrong size or sha256.*manual_dir"):
        ts.load_tiny_shakespeare(str(tmp_path / "b"), str(tmp_path))

    def no_dns(*args, **kwargs):
        raise socket.gaierror("no network")

    monkeypatch.setattr(urllib.request, "getproxies", dict)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(DataError, match="no network.*manual_dir"):
        ts.load_tiny_shakespeare(str(tmp_path / "c"), None)


def test_text_file_splits_at_char_positions(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)) + "é"
    (tmp_path / "corpus.bin").write_text(text, encoding="utf-8")
    splits = load_text_splits(str(tmp_path / "corpus.bin"), FRACTIONS)
    assert [len(s) for s in splits.values()] == [800, 100, 101]
    assert "".join(splits.values()) == text


def test_text_directory_is_sorted_recursive_and_filtered(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.md").write_text("third")
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "b" / "a.py").write_text("second")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\xff")
    (tmp_path / ".git" / "x.txt").write_text("hidden")
    splits = load_splits(_config(path=str(tmp_path), split_fractions=(0.5, 0.25, 0.25)))
    assert "".join(splits.values()) == "first\nsecond\nthird"


def test_text_source_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_text_splits(str(tmp_path / "missing.txt"), FRACTIONS)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_text_splits(str(tmp_path / "empty.txt"), FRACTIONS)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(b"abc")
    with pytest.raises(DataError, match="no text files"):
        load_text_splits(str(tmp_path / "sub"), FRACTIONS)
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt is not UTF-8 \(byte offset 3"):
        load_text_splits(str(tmp_path / "latin1.txt"), FRACTIONS)
    with pytest.raises(DataError, match="split_fractions"):
        load_text_splits(str(tmp_path / "missing.txt"), (0.5, 0.5, 0.5))
    with pytest.raises(DataError, match="needs --config.data.path"):
        load_splits(_config())


def test_binary_files_and_bad_bytes(tmp_path):
    (tmp_path / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00IHDR")
    with pytest.raises(DataError, match=r"picture.txt looks binary: NUL byte at offset 8"):
        load_text_splits(str(tmp_path / "picture.txt"), FRACTIONS)
    (tmp_path / "mixed.txt").write_bytes(b"caf\xe9 ok" * 10)
    with pytest.raises(DataError, match=r"byte offset 3.*--config.data.encoding_errors=replace"):
        load_text_splits(str(tmp_path / "mixed.txt"), FRACTIONS)
    text = "".join(load_text_splits(str(tmp_path / "mixed.txt"), FRACTIONS, "replace").values())
    assert text == "caf\ufffd ok" * 10
    with pytest.raises(DataError, match="encoding_errors must be one of strict, replace"):
        load_text_splits(str(tmp_path / "mixed.txt"), FRACTIONS, "ignore")
    config = _config(path=str(tmp_path / "mixed.txt"), encoding_errors="replace")
    assert "".join(load_splits(config).values()) == text


def test_stdlib_corpus_is_capped_and_deterministic():
    files = stdlib_py_files()
    assert files == sorted(files) and len(files) > 100
    assert not any(f"{os.sep}{d}{os.sep}" in f for f in files for d in ("site-packages", "test", "tests"))
    splits = load_stdlib_splits(FRACTIONS, max_chars=5000)
    assert [len(s) for s in splits.values()] == [4000, 500, 500]
    assert splits == load_splits(_config(source="stdlib", max_chars=5000))
    with open(files[0], encoding="utf-8") as f:
        assert (splits["train"] + splits["validation"]).startswith(f.read()[:4500])


def test_unknown_source_and_empty_validation(tmp_path):
    with pytest.raises(DataError, match="unknown data source 'web'.*stdlib.*text"):
        load_splits(_config(source="web"))
    (tmp_path / "tiny.txt").write_text("abcdefghij")
    with pytest.raises(DataError, match="validation split .* is empty"):
        load_splits(_config(path=str(tmp_path / "tiny.txt"), split_fractions=(0.95, 0.0, 0.05)))
