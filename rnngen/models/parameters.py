"""Counting a language model's parameters by part: embedding, recurrent layers, output layer."""

from __future__ import annotations

import math
from typing import Any

import jax

EMBEDDING_KEY = "embed"
RECURRENT_KEY = "layers"


def count_leaves(tree: Any) -> int:
    """The number of scalars in a pytree of arrays (or of jax.ShapeDtypeStruct)."""
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree)))


def parameter_counts(params: dict) -> dict[str, int]:
    """Parameter counts of an ``RNNLanguageModel``'s pure dict (``nnx.to_pure_dict``).

    Returns {"embedding", "recurrent", "output", "total"}: ``embed``, ``layers``
    and everything else (``output``, or ``output_projection`` and ``output_bias``
    when the embeddings are tied, whose shared matrix counts once, as embedding).
    """
    embedding = count_leaves(params.get(EMBEDDING_KEY, {}))
    recurrent = count_leaves(params.get(RECURRENT_KEY, {}))
    total = count_leaves(params)
    return {"embedding": embedding, "recurrent": recurrent, "output": total - embedding - recurrent, "total": total}
