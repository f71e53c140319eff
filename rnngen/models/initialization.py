"""``model.init=pytorch``: PyTorch's default initialisation, for comparisons with PyTorch code.

rnngen's own (``default``) initialises recurrent weights orthogonally and the LSTM's forget
bias at ``model.forget_bias``. PyTorch's, as ``nn.LSTM``/``nn.GRU``/``nn.RNN``, ``nn.Embedding``
and ``nn.Linear`` do it: every weight and bias of a recurrent layer U(-k, k) with
k = 1 / sqrt(hidden) (an LSTM's one bias is the sum of two such draws, as PyTorch's
b_ih + b_hh; ``model.forget_bias`` does not apply), the embedding N(0, 1), the output
layer's weight and bias U(-1 / sqrt(in), 1 / sqrt(in)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rnngen.errors import UsageError
from rnngen.models.cells import LSTMCell

INITS = ("default", "pytorch")
SUMMED_BIASES = ("b",)  # one bias standing for PyTorch's b_ih + b_hh (rnngen's LSTM)


def uniform(key: jax.Array, shape, bound: float) -> jax.Array:
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def initialize_like_pytorch(model, seed: int) -> None:
    """Re-draws ``model``'s parameters (an :class:`~rnngen.models.language_model.RNNLanguageModel`)
    as PyTorch's defaults, from ``seed``."""
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 7)
    if hasattr(model, "embed"):
        key, sub = jax.random.split(key)
        model.embed.embedding[...] = jax.random.normal(sub, model.embed.embedding.shape, jnp.float32)
    for layer in model.layers:
        bound = layer.hidden_size ** -0.5
        for name, param in sorted(nnx.to_flat_state(nnx.state(layer, nnx.Param)), key=lambda item: item[0]):
            key, first, second = jax.random.split(key, 3)
            shape = param[...].shape
            value = uniform(first, shape, bound)
            if name[-1] in SUMMED_BIASES and isinstance(layer, LSTMCell):
                value = value + uniform(second, shape, bound)
            set_path(layer, name, value)
    output = model.output_projection if model.tied else model.output
    if output is not None:
        key, first, second = jax.random.split(key, 3)
        bound = output.kernel.shape[0] ** -0.5
        output.kernel[...] = uniform(first, output.kernel.shape, bound)
        if getattr(output, "bias", None) is not None:
            output.bias[...] = uniform(second, output.bias.shape, bound)


def set_path(module, path, value) -> None:
    """Sets the parameter at ``path`` (a tuple of attribute names) of ``module``."""
    for name in path[:-1]:
        module = getattr(module, name) if not isinstance(name, int) else module[name]
    getattr(module, path[-1])[...] = value


def check_init(name: str) -> None:
    if name not in INITS:
        raise UsageError(f"model.init must be one of {', '.join(INITS)}, got {name!r}")
