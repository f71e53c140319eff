"""Tiny Shakespeare as a TFDS ArrayRecord dataset of ours (no TensorFlow needed).

Same splits as the TFDS catalog's `tiny_shakespeare`: one example per split
holding the whole split text (train 1,003,854 chars, validation 55,770,
test 55,770). The source file is checked against `checksums.tsv` next to this
module, which TFDS finds through `code_path.parent / "checksums.tsv"`.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import urllib.request

import tensorflow_datasets as tfds
from etils import epath
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from rnngen.data.errors import DataError
from rnngen.data.splitting import SPLIT_NAMES, split_text

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
FILENAME = "input.txt"
CATALOG_FRACTIONS = (0.9, 0.05, 0.05)
_HINT = f"pass --config.data.manual_dir=DIR with karpathy's {FILENAME} ({URL})"


class TinyShakespeare(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Karpathy's tinyshakespeare `input.txt`, one example per split."""

    name = "tiny_shakespeare"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Catalog splits, stored as ArrayRecord."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Place karpathy's {FILENAME} ({URL}) here."

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        """This file; TFDS looks for `checksums.tsv` next to it.

        Overridden because TFDS 4.9.10's own `code_path` imports the
        `importlib_resources` backport, which it only requires on Python < 3.9.
        """
        return epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="40,000 lines of Shakespeare (Karpathy's char-rnn corpus).",
            features=tfds.features.FeaturesDict({"text": tfds.features.Text()}),
            homepage="https://github.com/karpathy/char-rnn",
        )

    def _split_generators(self, dl_manager):
        # A `manual_dir/input.txt` is used instead of downloading; either way
        # TFDS verifies its size and sha256 against checksums.tsv.
        path = dl_manager.download(URL)
        text = path.read_text(encoding="utf-8")
        return {
            name: self._generate_examples(piece)
            for name, piece in split_text(text, CATALOG_FRACTIONS).items()
        }

    def _generate_examples(self, text: str):
        yield 0, {"text": text}


def load_tiny_shakespeare(data_dir: str | None = None, manual_dir: str | None = None) -> dict[str, str]:
    """Returns {"train", "validation", "test"} texts, preparing them once.

    Prepared data is cached under `data_dir` (None: TFDS default) and reused.
    With `manual_dir`, `manual_dir/input.txt` is used instead of the network.
    """
    _check_dir("data.data_dir", data_dir)
    _check_dir("data.manual_dir", manual_dir)
    builder = TinyShakespeare(data_dir=data_dir, file_format="array_record")
    if not builder.is_prepared():
        _prepare(builder, manual_dir)
    sources = builder.as_data_source()
    return {name: _decode(sources[name][0]["text"]) for name in SPLIT_NAMES}


def _check_dir(key: str, path: str | None) -> None:
    """A DataError when `path` exists but is not a directory."""
    if path is not None and os.path.exists(path) and not os.path.isdir(path):
        raise DataError(f"{key} {path} is a file, not a directory: pass --config.{key}=DIR")


def _prepare(builder: TinyShakespeare, manual_dir: str | None) -> None:
    """Reads `manual_dir/input.txt` (or downloads it) and writes the splits."""
    if manual_dir is None:
        _check_resolvable(URL)
    elif not os.path.isfile(os.path.join(manual_dir, FILENAME)):
        raise DataError(f"{os.path.join(manual_dir, FILENAME)} not found: {_HINT}")
    config = tfds.download.DownloadConfig(manual_dir=manual_dir, force_checksums_validation=True)
    try:
        builder.download_and_prepare(download_config=config)
    except NonMatchingChecksumError as e:
        source = os.path.join(manual_dir, FILENAME) if manual_dir else URL
        raise DataError(
            f"{source} has the wrong size or sha256, it is not karpathy's tinyshakespeare: {_HINT}"
        ) from e
    except OSError as e:
        if e.filename is None:  # a network error
            raise DataError(f"could not download {URL} ({type(e).__name__}): {_HINT}") from e
        raise DataError(
            f"could not prepare tiny_shakespeare under {builder.data_dir} ({e.strerror}: {e.filename}): "
            "pass a writable --config.data.data_dir=DIR"
        ) from None
    except tfds.download.DownloadError as e:
        raise DataError(f"could not download {URL} ({type(e).__name__}): {_HINT}") from e


def _check_resolvable(url: str) -> None:
    """Fails fast without network (TFDS would retry for minutes).

    Skipped when a proxy is configured, since the proxy resolves the host.
    """
    if urllib.request.getproxies():
        return
    host = urllib.parse.urlparse(url).hostname
    try:
        socket.getaddrinfo(host, 443)
    except OSError as e:
        raise DataError(f"cannot resolve {host} (no network?): {_HINT}") from e


def _decode(text) -> str:
    """The Text feature reads back as bytes (or str); returns str."""
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
