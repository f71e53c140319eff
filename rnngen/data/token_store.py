"""Token ids written once to a file per split, and memory-mapped by every later run.

Under ``data.cache_dir`` (default ``$XDG_CACHE_HOME/rnngen/tokens``, else
``~/.cache/rnngen/tokens``) a corpus prepared with a tokenizer setting has a directory
named by the digest of the corpus's identity (the source's settings; each file's path,
size and modification time) and of the tokenizer setting. It holds ``tokenizer.json``
(learned from the training split) and, per split and tokenizer, ``SPLIT.DIGEST.ids``
(uint16 where the vocabulary fits, else uint32) beside ``SPLIT.DIGEST.json`` (token and
character counts). Each file is written under a temporary name and renamed, so a killed
run leaves nothing half-written and several processes may prepare one corpus at once.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
from tqdm.auto import tqdm

from rnngen.data.chunks import Chunks
from rnngen.data.corpus import EncodedSplit
from rnngen.data.sources import load_source
from rnngen.data.tokenizers import learn_tokenizer, tokenizer_from_json


FORMAT = 1  # of the files below; a change makes new directories


def cache_root(data_config) -> str:
    """``data.cache_dir``, or the user's cache directory's ``rnngen/tokens``."""
    if data_config.cache_dir:
        return os.path.expanduser(data_config.cache_dir)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rnngen", "tokens")


def digest(value) -> str:
    """A short SHA-256 (hex) of ``value``'s canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:20]


def write_atomically(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file of this process, renamed into place."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class TokenStore:
    """The prepared token ids of one corpus and tokenizer setting, in ``directory``."""

    def __init__(self, data_config, identity: dict, tokenizer_config):
        key = {"format": FORMAT, "corpus": identity, "tokenizer": dict(tokenizer_config)}
        self.directory = os.path.join(cache_root(data_config), digest(key))
        os.makedirs(self.directory, exist_ok=True)

    def tokenizer(self, tokenizer_config, train_chunks: Chunks):
        """The tokenizer learned from the training split, learned once and then read back."""
        path = os.path.join(self.directory, "tokenizer.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return tokenizer_from_json(json.load(f))
        pieces = tqdm(train_chunks(), desc="vocabulary", unit=" pieces", disable=None, leave=False)
        tokenizer = learn_tokenizer(tokenizer_config, pieces)
        write_atomically(path, json.dumps(tokenizer.to_json()).encode("utf-8"))
        return tokenizer

    def split(self, name: str, chunks: Chunks, tokenizer) -> EncodedSplit:
        """Split ``name``'s ids, memory-mapped (``starts`` is None): encoded from ``chunks`` the
        first time, with a progress bar, and read from the file afterwards."""
        prefix = os.path.join(self.directory, f"{name}.{digest(tokenizer.to_json())}")
        if not os.path.isfile(prefix + ".json"):
            counts = encode_to_file(prefix + ".ids", chunks, tokenizer, name)
            write_atomically(prefix + ".json", json.dumps(counts).encode("utf-8"))
        with open(prefix + ".json", encoding="utf-8") as f:
            counts = json.load(f)
        dtype = np.dtype(counts["dtype"])
        if not counts["tokens"]:
            return EncodedSplit(np.zeros(0, dtype), None, 0)
        return EncodedSplit(np.memmap(prefix + ".ids", dtype, mode="r", shape=(counts["tokens"],)), None,
                            counts["characters"])


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def encode_to_file(path: str, chunks: Chunks, tokenizer, name: str) -> dict:
    """Encodes ``chunks`` piece by piece into ``path`` (renamed into place when complete);
    returns {"tokens", "characters" (as :class:`EncodedSplit`'s ``num_chars``), "dtype"}."""
    dtype, tokens, chars, first_char = ids_dtype(tokenizer.vocab_size), 0, 0, None
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f, tqdm(desc=f"tokenizing {name}", unit=" chars", unit_scale=True, disable=None,
                                    leave=False) as bar:
        for piece in chunks():
            if first_char is None:  # where the second token starts: the first predicted character
                ids, starts = tokenizer.encode_with_offsets(piece)
                if tokens + len(ids) > 1:
                    first_char = chars + int(starts[1 - tokens])
            else:
                ids = tokenizer.encode(piece)
            f.write(np.asarray(ids).astype(dtype).tobytes())
            tokens, chars = tokens + len(ids), chars + len(piece)
            bar.update(len(piece))
    os.replace(tmp, path)
    if tokenizer.unit == "byte":
        predicted = max(tokens - 1, 0)
    else:
        predicted = 0 if first_char is None else chars - first_char
    return {"tokens": tokens, "characters": predicted, "dtype": dtype.str}


def prepare_splits(data_config, tokenizer_config, tokenizer_json: dict | None = None,
                   names=("train", "validation")):
    """(tokenizer, {name: EncodedSplit}) of the configured corpus through the token store.

    The tokenizer is rebuilt from ``tokenizer_json`` (a checkpoint's) when given, else
    learned from the training split as ``tokenizer_config`` says (once per corpus and setting).
    """
    corpus = load_source(data_config)
    store = TokenStore(data_config, corpus.identity, tokenizer_config)
    if tokenizer_json is not None:
        tokenizer = tokenizer_from_json(tokenizer_json)
    else:
        tokenizer = store.tokenizer(tokenizer_config, corpus.splits["train"])
    return tokenizer, {name: store.split(name, corpus.splits[name], tokenizer) for name in names}
