"""The cuDNN backend of the built-in LSTM (``train.rnn_backend=cudnn``).

``jax.experimental.rnn.lstm`` runs a whole stack of LSTM layers over a whole
block in one cuDNN call, forward and backward. It takes cuDNN's opaque flat
weight vector; :func:`pack_weights` builds it from the layers' own parameters
on every call (a few copies, differentiable), so the parameters, checkpoints
and sampling are the same whichever backend trained them.

cuDNN's LSTM has the same gate order (i, f, g, o) and formulas as
:class:`rnngen.models.cells.LSTMCell`; it keeps two biases per layer, so
``b_ih`` is the cell's bias and ``b_hh`` zero. Its float32 math follows JAX's
matmul precision (TF32 tensor cores unless ``jax_default_matmul_precision`` is
``highest``). It runs on CUDA GPUs only and in float32 only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnngen.errors import UsageError

RNN_BACKENDS = ("auto", "xla", "cudnn")


def pack_weights(layers) -> jax.Array:
    """The layers' (w_ih [input, 4H], b [4H], w_hh [H, 4H]) in cuDNN's flat layout [num_params]:
    every layer's W_ih [4H, input] and W_hh [4H, H], then every layer's b_ih and b_hh [4H]."""
    matrices, biases = [], []
    for layer in layers:
        matrices += [layer.w_ih[...].T.ravel(), layer.w_hh[...].T.ravel()]
        biases += [layer.b[...], jnp.zeros_like(layer.b[...])]
    return jnp.concatenate(matrices + biases)


def lstm_stack(layers, xs: jax.Array, carries) -> tuple[jax.Array, tuple]:
    """xs [batch, time, input], one (h, c) [batch, hidden] carry per layer ->
    (the last layer's hs [batch, time, hidden], the final carries), in one cuDNN call."""
    from jax.experimental import rnn

    batch, time, input_size = xs.shape
    h_0 = jnp.stack([h for h, _ in carries])
    c_0 = jnp.stack([c for _, c in carries])
    hs, h_n, c_n = rnn.lstm(
        xs.astype(jnp.float32), h_0, c_0, pack_weights(layers), jnp.full((batch,), time, jnp.int32),
        input_size=input_size, hidden_size=layers[0].hidden_size, num_layers=len(layers),
        dropout=0.0, bidirectional=False,
    )
    return hs, tuple((h_n[i], c_n[i]) for i in range(len(layers)))


def resolve_rnn_backend(requested: str, cell: str, compute_dtype: str, platform: str, device_count: int) -> str:
    """The backend ``train.rnn_backend=requested`` runs here: "xla" or "cudnn".

    "auto" is cuDNN where it can run (the built-in lstm cell, float32, one CUDA GPU),
    XLA elsewhere; "cudnn" where it cannot run is a one-line UsageError that says why.
    """
    if requested not in RNN_BACKENDS:
        raise UsageError(f"--config.train.rnn_backend must be one of {', '.join(RNN_BACKENDS)}, got {requested!r}")
    if requested == "xla":
        return "xla"
    problem = None
    if cell != "lstm":
        problem = f"runs the built-in lstm cell only, and model.cell is {cell!r}"
    elif compute_dtype != "float32":
        problem = f"runs in float32 only, and train.compute_dtype is {compute_dtype!r}"
    elif platform != "gpu":
        problem = f"needs a CUDA GPU, and this process's devices are {platform}"
    elif device_count != 1:
        problem = f"runs on one device (its call is not split over a mesh), and this run has {device_count}"
    if problem is None:
        return "cudnn"
    if requested == "auto":
        return "xla"
    raise UsageError(f"--config.train.rnn_backend=cudnn {problem}; use --config.train.rnn_backend=xla or auto")
