"""Decoding generated ids piece by piece so that the pieces join into exactly the whole text.

- char: each id is its character; pieces decode on their own.
- subword and byte: ids are UTF-8 byte pieces, and a character's bytes may be
  split over two pieces; an incremental UTF-8 decoder holds incomplete bytes back (with
  "replace", as the tokenizer's ``decode`` does).
- word: the space before a word depends on its neighbours (``join_tokens``), so
  the last token's text is held back until the next one is known.

With stop strings, the text is cut before the first one, as
:func:`rnngen.decoding.stop_strings.cut_at_stop` cuts the whole text: the last
``len(longest stop) - 1`` characters are held back until they cannot begin one.
"""

from __future__ import annotations

import codecs
from typing import Sequence

from rnngen.decoding.stop_strings import cut_at_stop

BYTE_PIECES = ("subword", "byte")  # tokenizers whose ids stand for byte strings (``piece_bytes``)


class IncrementalText:
    """``push(ids)`` returns the text that is final so far; ``finish()`` returns the rest."""

    def __init__(self, tokenizer, stops: Sequence[str] = ()):
        self.tokenizer, self.stops = tokenizer, tuple(stops)
        self.ids: list[int] = []
        self.utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self.final = ""  # decoded text that no later id can change (before the stop cut)
        self.sent = 0  # characters of ``final`` already returned
        self.stopped = False

    def push(self, ids) -> str:
        """New final text after ids int [n] (cut at a stop string; "" once stopped)."""
        ids = [int(i) for i in ids]
        if self.tokenizer.type_name in BYTE_PIECES:
            self.final += self.utf8.decode(b"".join(self.tokenizer.piece_bytes[i] for i in ids))
        elif self.tokenizer.type_name == "word":
            self.ids += ids
            self.final = stable_word_text(self.tokenizer, self.ids)
        else:
            self.final += self.tokenizer.decode(ids)
        return self._release(hold=max((len(s) for s in self.stops), default=1) - 1)

    def finish(self) -> str:
        """The rest of the text once generation has ended."""
        if self.tokenizer.type_name in BYTE_PIECES:
            self.final += self.utf8.decode(b"", final=True)
        elif self.tokenizer.type_name == "word":
            self.final = self.tokenizer.decode(self.ids)
        return self._release(hold=0)

    def _release(self, hold: int) -> str:
        """The final text not yet returned, cut at a stop string, keeping ``hold`` characters back."""
        if self.stopped:
            return ""
        text, self.stopped = cut_at_stop(self.final, self.stops)
        end = len(text) if self.stopped else max(self.sent, len(text) - hold)
        out, self.sent = text[self.sent:end], end
        return out


def stable_word_text(tokenizer, ids: list[int]) -> str:
    """The part of ``tokenizer.decode(ids)`` no further id can change: all but the last token
    and the space before it (tokens hold no spaces, so only that space is in doubt)."""
    if not ids:
        return ""
    text = tokenizer.decode(ids)
    text = text[: len(text) - len(tokenizer.decode(ids[-1:]))]
    return text[:-1] if text.endswith(" ") else text
