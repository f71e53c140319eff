"""Subword tokenizer: SentencePiece (BPE or unigram) with byte fallback and exact decoding.

SentencePiece is imported only when a subword tokenizer is built or restored.

How exactness is kept (SentencePiece alone would lose newlines, and would read
a literal "\u2581" as a space):
- the text is cut at newlines, at U+2581 and at U+E000, and long lines are cut
  before single spaces (SentencePiece pieces never cross those), into chunks
  of at most `MAX_CHUNK` characters that SentencePiece encodes one by one;
- each newline becomes the user-defined piece U+E000 (one token per newline);
- a literal U+2581 or U+E000 becomes its UTF-8 byte pieces;
- `decode` maps every id to its exact bytes itself, instead of SentencePiece's
  decoder, and the model runs with identity normalization, no dummy prefix, no
  whitespace cleanup, and byte fallback for characters unseen in training.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import io
import itertools
import re

import numpy as np

from rnngen.data.errors import DataError

NEWLINE_PIECE = "\ue000"  # Private-use character standing for "\n" inside the model.
SPACE_MARK = "\u2581"  # SentencePiece's whitespace symbol.
UNK_CHAR = "\ufffd"  # What the unknown id decodes to (byte fallback never emits it).
MAX_CHUNK = 1000  # Characters SentencePiece sees at once (4000 bytes < its 4192 limit).
MODEL_TYPES = ("bpe", "unigram")

_SEPARATOR_RE = re.compile(f"(\n|[{SPACE_MARK}{NEWLINE_PIECE}])")
_CUT_RE = re.compile(r"(?<=[^ ]) (?=[^ ])")  # single spaces: safe places to cut a long line
_BYTE_PIECE_RE = re.compile(r"<0x([0-9A-F]{2})>")
_TOO_HIGH_RE = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")


class SubwordTokenizer:
    """SentencePiece ids with exact round trips: `decode(encode(text)) == text`."""

    type_name = "subword"
    unit = "character"  # what bits per character count

    def __init__(self, model_proto: bytes):
        """`model_proto`: a serialized SentencePiece model trained by `from_text`."""
        self.model_proto = bytes(model_proto)
        self._sp = _load_processor(self.model_proto)
        self.unk_id = int(self._sp.unk_id())
        self._bytes = [_piece_bytes(self._sp, i) for i in range(self.vocab_size)]
        self._lengths = np.array([len(b) for b in self._bytes], dtype=np.int64)
        self._byte_ids, self._newline_id = _special_ids(self._sp)

    @classmethod
    def from_text(cls, train_text: str, tokenizer_config) -> SubwordTokenizer:
        """Trains a SentencePiece model on `train_text` (config: vocab_size, subword_model)."""
        model_type, vocab_size = _check_config(tokenizer_config)
        _utf8(train_text)
        sentences = [c for c in _chunks(train_text) if isinstance(c, str)]
        _check_min_vocab(sentences, vocab_size)
        return cls(_train(sentences, model_type, vocab_size))

    @classmethod
    def from_chunks(cls, pieces, tokenizer_config) -> SubwordTokenizer:
        """:meth:`from_text` of the text that the str ``pieces`` make up (SentencePiece trains on it whole)."""
        return cls.from_text("".join(pieces), tokenizer_config)

    @property
    def vocab_size(self) -> int:
        """Number of ids: <unk>, the newline piece, 256 byte pieces and the learned pieces."""
        return int(self._sp.get_piece_size())

    @property
    def piece_bytes(self) -> tuple[bytes, ...]:
        """The exact UTF-8 bytes each id [vocab] adds to decoded text (decoding concatenates them)."""
        return tuple(self._bytes)

    def encode(self, text: str) -> np.ndarray:
        """Returns int32 ids [n]; unseen characters become their UTF-8 byte pieces."""
        _utf8(text)
        items = _chunks(text)
        texts = [c for c in items if isinstance(c, str)]
        encoded = iter(self._sp.encode(texts) if texts else [])
        parts = (next(encoded) if isinstance(c, str) else self._separator_ids(c[0]) for c in items)
        return np.fromiter(itertools.chain.from_iterable(parts), np.int32)

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(int32 ids [n], int64 character offsets [n] where each token starts in `text`).

        Byte pieces of one character all get that character's offset.
        """
        data = _utf8(text)
        ids = self.encode(text)
        lengths = self._lengths[ids]
        if int(lengths.sum()) != len(data):
            raise DataError("subword pieces do not cover the text exactly; was this model trained by rnngen?")
        byte_starts = np.cumsum(lengths) - lengths
        return ids, _char_index_of_bytes(data)[byte_starts]

    def decode(self, ids) -> str:
        """Exact text of int ids [n]; invalid UTF-8 byte sequences decode to "\\ufffd"."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise DataError(f"ids outside [0, {self.vocab_size}) cannot be decoded")
        return b"".join([self._bytes[i] for i in ids.tolist()]).decode("utf-8", "replace")

    def unknown_tokens(self, text: str) -> list[str]:
        """Always [] (byte fallback encodes any text)."""
        return []

    def to_json(self) -> dict:
        """A JSON-able description (the model as base64); `tokenizer_from_json` restores it."""
        return {"type": self.type_name, "model_proto": base64.b64encode(self.model_proto).decode("ascii")}

    @classmethod
    def from_json(cls, d: dict) -> SubwordTokenizer:
        """Inverse of `to_json`."""
        try:
            return cls(base64.b64decode(d["model_proto"], validate=True))
        except binascii.Error:
            raise DataError("the subword tokenizer's model_proto is not valid base64") from None

    def _separator_ids(self, char: str) -> list[int]:
        """Ids of a separator: the newline piece, or the byte pieces of U+2581 / U+E000."""
        if char == "\n":
            return [self._newline_id]
        return [self._byte_ids[b] for b in char.encode("utf-8")]


def _chunks(text: str) -> list:
    """`text` as SentencePiece chunks (str) and separators (1-tuples of "\\n", U+2581 or U+E000)."""
    items = []
    for i, part in enumerate(_SEPARATOR_RE.split(text)):
        if i % 2:
            items.append((part,))
        elif part:
            items.extend(_cut_long(part))
    return items


def _cut_long(line: str) -> list[str]:
    """`line` cut into pieces of <= MAX_CHUNK characters, before single spaces where possible."""
    if len(line) <= MAX_CHUNK:
        return [line]
    cuts = [m.start() for m in _CUT_RE.finditer(line)]
    pieces, start = [], 0
    while len(line) - start > MAX_CHUNK:
        k = bisect.bisect_right(cuts, start + MAX_CHUNK) - 1
        end = cuts[k] if k >= 0 and cuts[k] > start else start + MAX_CHUNK
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return pieces


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of `text`, or a DataError for unpaired surrogates."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataError(
            f"text has an unpaired surrogate at character {e.start}; subword tokenizers need valid Unicode"
        ) from None


def _char_index_of_bytes(data: bytes) -> np.ndarray:
    """int64 [len(data)]: index of the character each UTF-8 byte belongs to."""
    b = np.frombuffer(data, np.uint8)
    return np.cumsum((b & 0xC0) != 0x80, dtype=np.int64) - 1


def _check_config(tokenizer_config) -> tuple[str, int]:
    """(model_type, vocab_size) from the config, or a DataError naming the fix."""
    model_type, vocab_size = str(tokenizer_config.subword_model), int(tokenizer_config.vocab_size)
    if model_type not in MODEL_TYPES:
        raise DataError(
            f"tokenizer.subword_model={model_type!r} is unknown: use one of {list(MODEL_TYPES)}, "
            "e.g. --config.tokenizer.subword_model=bpe"
        )
    return model_type, vocab_size


def min_vocab_size(train_text: str) -> int:
    """Smallest vocab_size SentencePiece accepts for `train_text`: <unk>, the newline piece,
    256 byte pieces and one piece per distinct character (space included, newline excluded)."""
    return 258 + len(set(train_text) - {"\n", SPACE_MARK, NEWLINE_PIECE})


def _check_min_vocab(sentences: list[str], vocab_size: int) -> None:
    """Raises a DataError when `vocab_size` cannot hold the required pieces."""
    if not sentences:
        raise DataError("the training split has no text besides newlines; a subword tokenizer cannot be trained")
    needed = min_vocab_size("".join(sentences))
    if vocab_size < needed:
        raise DataError(
            f"tokenizer.vocab_size={vocab_size} is too small for this training split: it needs {needed} "
            f"(256 byte pieces + <unk> + the newline piece + {needed - 258} distinct characters); "
            f"use e.g. --config.tokenizer.vocab_size={-(-needed // 100) * 100}"
        )


def _train(sentences: list[str], model_type: str, vocab_size: int) -> bytes:
    """Serialized SentencePiece model trained in memory on `sentences`."""
    spm = _sentencepiece()
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=writer, model_type=model_type,
            vocab_size=vocab_size, character_coverage=1.0, byte_fallback=True,
            normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True, user_defined_symbols=[NEWLINE_PIECE],
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, max_sentence_length=4 * MAX_CHUNK + 4,
            minloglevel=2,
        )
    except RuntimeError as e:
        raise _training_error(e, vocab_size) from None
    return writer.getvalue()


def _training_error(error: RuntimeError, vocab_size: int) -> DataError:
    """A DataError for a SentencePiece training failure, with the fix when it is the vocab size."""
    too_high = _TOO_HIGH_RE.search(str(error))
    if too_high:
        return DataError(
            f"tokenizer.vocab_size={vocab_size} is too large for this training split: SentencePiece can "
            f"make at most {too_high.group(2)} pieces; use e.g. --config.tokenizer.vocab_size={too_high.group(2)}"
        )
    return DataError(f"SentencePiece training failed (check --config.tokenizer.vocab_size={vocab_size}): {error}")


def _sentencepiece():
    """The sentencepiece module, imported on first use."""
    try:
        import sentencepiece
    except ImportError:
        raise DataError(
            "tokenizer.kind=subword needs the sentencepiece package: pip install 'sentencepiece>=0.2'"
        ) from None
    return sentencepiece


def _load_processor(model_proto: bytes):
    """A SentencePieceProcessor for `model_proto`, or a DataError."""
    if not model_proto:
        raise DataError("the subword tokenizer's SentencePiece model is empty")
    try:
        return _sentencepiece().SentencePieceProcessor(model_proto=model_proto)
    except (RuntimeError, OSError, ValueError) as e:
        raise DataError(f"not a valid SentencePiece model: {e}") from None


def _piece_bytes(sp, i: int) -> bytes:
    """The exact UTF-8 bytes id `i` stands for in the original text."""
    piece = sp.id_to_piece(i)
    if sp.is_byte(i):
        return bytes([int(_BYTE_PIECE_RE.fullmatch(piece).group(1), 16)])
    if sp.is_unknown(i):
        return UNK_CHAR.encode("utf-8")
    if sp.is_control(i):
        return b""
    return piece.replace(SPACE_MARK, " ").replace(NEWLINE_PIECE, "\n").encode("utf-8")


def _special_ids(sp) -> tuple[list[int], int]:
    """(ids of the byte pieces <0x00>..<0xFF> [256], id of the newline piece), or a DataError."""
    byte_ids = [sp.piece_to_id(f"<0x{b:02X}>") for b in range(256)]
    newline_id = sp.piece_to_id(NEWLINE_PIECE)
    if not all(sp.is_byte(i) for i in byte_ids) or newline_id == sp.unk_id():
        raise DataError(
            "this SentencePiece model lacks byte fallback or the newline piece; it was not trained by rnngen"
        )
    return byte_ids, newline_id
