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


def separator(tokenizer, last_prompt_id: int, generated_ids) -> str:
    """What goes between a prompt and its generated text: the space a word tokenizer's
    decode puts between the prompt's last token and the first generated one ("KING" +
    " HENRY"); nothing for char and subword tokenizers, whose decode is exact."""
    generated_ids = np.asarray(generated_ids).reshape(-1)
    if not generated_ids.size:
        return ""
    before, after = tokenizer.decode([last_prompt_id]), tokenizer.decode(generated_ids[:1])
    joined = tokenizer.decode([last_prompt_id, generated_ids[0]])
    if len(joined) > len(before) + len(after) and joined.startswith(before) and joined.endswith(after):
        return joined[len(before) : len(joined) - len(after)]
    return ""
