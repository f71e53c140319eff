"""Bits per character on one scale for every tokenization, and evaluation with state resets."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from rnngen.data.corpus import EncodedSplit, encode_split
from rnngen.train.evaluation import evaluate_with_resets, reset_rows
from rnngen.train.evaluation import evaluate


def uniform_eval_step(vocab_size):
    """A model that gives every token probability 1/vocab_size: ln(vocab_size) nats per target."""

    def eval_step(params, carry, inputs, targets, mask):
        return jnp.sum(mask) * math.log(vocab_size), jnp.sum(mask), carry

    return eval_step


def test_bpc_divides_bits_by_the_characters_the_predicted_tokens_cover():
    # "ab cd ef!" as word tokens ab|cd|ef|! starting at 0, 3, 6, 8: the three predicted
    # tokens cover "cd ef!", 6 characters; a uniform model over 4 ids costs 2 bits a token.
    split = EncodedSplit(np.array([1, 2, 3, 0], np.int32), np.array([0, 3, 6, 8]), num_chars=6)
    metrics = evaluate(uniform_eval_step(4), None, None, split, batch_size=2, seq_len=2, unk_id=0)
    assert metrics["tokens"] == 3 and metrics["characters"] == 6
    assert metrics["bits_per_token"] == pytest.approx(2.0)
    assert metrics["bpc"] == pytest.approx(3 * 2.0 / 6)
    assert metrics["loss"] == pytest.approx(math.log(4))
    assert metrics["perplexity"] == pytest.approx(4.0)
    assert metrics["unk_rate"] == pytest.approx(1 / 3)  # the "!" target is unknown


class Spaced:
    """A toy tokenizer: one token per space-separated word, offsets of each word."""

    unit = "character"

    def encode_with_offsets(self, text):
        starts = [0] + [i + 1 for i, c in enumerate(text) if c == " "]
        return np.arange(len(starts), dtype=np.int32), np.array(starts)


def test_encode_split_counts_the_characters_after_the_first_token():
    split = encode_split(Spaced(), "to be or")
    assert split.num_chars == len("be or")
    assert split.starts.tolist() == [0, 3, 6]


def test_reset_rows_cut_at_multiples_of_k_characters():
    # Tokens start at characters 0, 3, 5, 8, 9, 13; with k=4 the targets (tokens 1..5)
    # fall in segments 0 (3), 1 (5), 2 (8, 9), 3 (13).
    split = EncodedSplit(np.array([10, 11, 12, 13, 14, 15], np.int32), np.array([0, 3, 5, 8, 9, 13]), 12)
    inputs, targets, mask = reset_rows(split, 4)
    assert targets.tolist() == [[11, 0], [12, 0], [13, 14], [15, 0]]
    assert inputs.tolist() == [[10, 0], [11, 0], [12, 13], [14, 0]]
    assert mask.tolist() == [[1, 0], [1, 0], [1, 1], [1, 0]]


def test_evaluation_with_resets_counts_every_target_once():
    ids = np.arange(50, dtype=np.int32) % 7
    split = EncodedSplit(ids, np.arange(50), 49)
    metrics = evaluate_with_resets(uniform_eval_step(7), None, None, split, every_chars=8, batch_size=3)
    assert metrics["tokens"] == 49 and metrics["bpc"] == pytest.approx(math.log2(7))
