"""The stacked recurrent language model.

``model(tokens [batch, time], carry) -> (logits [batch, time, vocab], carry)``.
The embedding lookup, every layer's input projection and the output projection
run over the whole ``[batch, time]`` block; only the recurrence itself runs in
``jax.lax.scan`` (inside each cell).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rnngen.errors import UsageError
from rnngen.models.cells import Carry, get_cell

INPUT_KINDS = ("embedding", "one_hot")


def dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    """Inverted dropout of x [...] with an explicit key; the identity when key is None."""
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class RNNLanguageModel(nnx.Module):
    """Embedding (or one-hot) -> num_layers recurrent cells -> linear output layer.

    Dropout (rate ``dropout``) is applied to the embedded input, between layers
    and before the output layer, only when a ``dropout_key`` is given.
    """

    def __init__(self, vocab_size: int, model_config, *, rngs: nnx.Rngs):
        cfg = model_config
        if cfg.input not in INPUT_KINDS:
            raise UsageError(f"model.input must be one of {INPUT_KINDS}, got {cfg.input!r}")
        self.vocab_size = vocab_size
        self.one_hot = cfg.input == "one_hot"
        self.dropout_rate = float(cfg.dropout)
        input_size = vocab_size if self.one_hot else cfg.embed_dim
        if not self.one_hot:
            self.embed = nnx.Embed(vocab_size, cfg.embed_dim, rngs=rngs)
        cell_class = get_cell(cfg.cell)
        sizes = [input_size] + [cfg.hidden_size] * cfg.num_layers
        self.layers = nnx.List(
            [cell_class.from_config(sizes[i], cfg.hidden_size, cfg, rngs) for i in range(cfg.num_layers)]
        )
        self.output = nnx.Linear(cfg.hidden_size, vocab_size, rngs=rngs)

    def zero_carry(self, batch_size: int) -> tuple[Carry, ...]:
        """The initial state: one zero carry per layer, each of [batch, hidden] arrays."""
        return tuple(layer.zero_carry(batch_size) for layer in self.layers)

    def embed_tokens(self, tokens: jax.Array) -> jax.Array:
        """tokens [batch, time] int -> [batch, time, embed_dim or vocab]."""
        if self.one_hot:
            return jax.nn.one_hot(tokens, self.vocab_size, dtype=jnp.float32)
        return self.embed(tokens)

    def __call__(
        self, tokens: jax.Array, carry: tuple[Carry, ...], *, dropout_key: jax.Array | None = None
    ) -> tuple[jax.Array, tuple[Carry, ...]]:
        """tokens [batch, time], carry -> (logits [batch, time, vocab], final carry)."""
        num_layers = len(self.layers)
        keys = [None] * (num_layers + 1) if dropout_key is None else list(jax.random.split(dropout_key, num_layers + 1))
        xs = dropout(self.embed_tokens(tokens), self.dropout_rate, keys[0])
        new_carry = []
        for layer, layer_carry, key in zip(self.layers, carry, keys[1:]):
            xs, layer_carry = layer(xs, layer_carry)
            xs = dropout(xs, self.dropout_rate, key)
            new_carry.append(layer_carry)
        return self.output(xs), tuple(new_carry)


def zero_carry(model: RNNLanguageModel, batch_size: int) -> tuple[Carry, ...]:
    """The zero initial carry of ``model`` for ``batch_size`` streams."""
    return model.zero_carry(batch_size)


def build_model(vocab_size: int, model_config, seed: int) -> RNNLanguageModel:
    """Builds the model with parameters initialised from ``seed``."""
    return RNNLanguageModel(vocab_size, model_config, rngs=nnx.Rngs(params=seed))
