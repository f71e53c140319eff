"""From generated ids to texts on the host: decoding rows and cutting them at stop strings."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rnngen.decoding.stop_strings import cut_at_stop


def row_texts(tokenizer, tokens: np.ndarray, lengths: np.ndarray | None, stops: Sequence[str]) -> list[str]:
    """tokens int [rows, num_new], lengths int [rows] (None: all) -> each row's generated text,
    cut before its first stop string."""
    texts = []
    for i, row in enumerate(np.asarray(tokens)):
        used = row if lengths is None else row[: int(lengths[i])]
        texts.append(cut_at_stop(tokenizer.decode(used), stops)[0])
    return texts
