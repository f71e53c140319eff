"""Streaming: the sampling loop in compiled blocks of ``block`` tokens, the state carried between them.

Each block continues the same ``lax.while_loop`` state (:mod:`rnngen.decoding.loop`),
so the tokens, and therefore the text, equal the one-call sampler's for the same
key. The block size is a traced limit: one compiled start and one compiled block
serve a whole stream.
"""

from __future__ import annotations

from typing import Any, Iterator

import jax
import numpy as np

from rnngen.decoding.loop import run, start
from rnngen.decoding.settings import Settings
from rnngen.decoding.stop_strings import StopTable

start_stream = jax.jit(start, static_argnames=("apply_fn", "num_new"))
run_block = jax.jit(run, static_argnames=("apply_fn",))


def stream_tokens(
    apply_fn, params: Any, initial_carry: Any, key: jax.Array, prompt_ids, num_new: int, settings: Settings,
    stops: StopTable | None, block: int,
) -> Iterator[np.ndarray]:
    """Yields each block's new tokens of row 0, int32 [<= block] (prompt_ids int32 [1, prompt_len]),
    until ``num_new`` tokens or a stop string."""
    state = start_stream(apply_fn, params, initial_carry, key, prompt_ids, num_new, stops)
    done = 0
    while done < num_new:
        state = run_block(apply_fn, params, state, settings, stops, done + block)
        step, stopped, length, tokens = jax.device_get((state.step, state.done[0], state.lengths[0], state.tokens[0]))
        end = int(length) if stopped else int(step)
        yield tokens[done:end]
        if stopped:
            return
        done = end

