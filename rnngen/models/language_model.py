"""The stacked recurrent language model.

``model(tokens [batch, time], carry) -> (logits [batch, time, vocab], carry)``,
which is ``model.logits(model.features(tokens, carry))``: the training loss calls
the two halves separately so that it can run the output layer in chunks of tokens
(``rnngen.train.losses``). The embedding lookup, every layer's input
projection and the output projection run over the whole ``[batch, time]`` block;
only the recurrence itself runs in ``jax.lax.scan`` (inside each cell).

Parameter names: ``embed`` (the embedding), ``layers`` (the recurrent cells) and
the output layer: ``output`` (a Linear hidden -> vocab), or, with tied
embeddings, ``output_bias`` [vocab] and, when hidden_size != embed_dim,
``output_projection`` (a bias-free Linear hidden -> embed_dim).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

from rnngen.errors import UsageError
from rnngen.models.cells import Carry, get_cell, resolve_recurrence
from rnngen.models.initialization import check_init, initialize_like_pytorch
from rnngen.models.regularization import DropoutRates, dropout, embedding_dropout, weight_drop
from rnngen.models.wavefront import wavefront as run_wavefront

INPUT_KINDS = ("embedding", "one_hot")
FOLD_SMALL_VOCAB = 256  # see RNNLanguageModel.first_projection


def check_tying(model_config) -> None:
    """Tied embeddings need an embedding matrix to share: a UsageError otherwise."""
    if model_config.tie_embeddings and model_config.input != "embedding":
        raise UsageError(
            "--config.model.tie_embeddings=True shares the embedding matrix with the output layer and "
            f"needs --config.model.input=embedding, got {model_config.input!r}"
        )


class RNNLanguageModel(nnx.Module):
    """Embedding (or one-hot) -> num_layers recurrent cells -> linear output layer.

    Dropout (rate ``dropout``, or ``input_dropout``, ``hidden_dropout`` and
    ``output_dropout`` where set; ``locked_dropout`` for one mask per sequence) is
    applied to the embedded input, between layers and before the output layer,
    and ``embed_dropout`` and ``weight_drop`` (:mod:`rnngen.models.regularization`)
    to the embedding's rows and the hidden-to-hidden weights, only when a
    ``dropout_key`` is given. With
    ``tie_embeddings`` the output layer reuses the embedding matrix (Inan et al.
    2017; Press & Wolf 2017): ``logits = proj(h) @ embedding.T + output_bias``;
    the tied embedding starts at std ``embed_dim ** -0.5`` so that the first
    logits are of order one.
    """

    def __init__(self, vocab_size: int, model_config, *, rngs: nnx.Rngs):
        cfg = model_config
        if cfg.input not in INPUT_KINDS:
            raise UsageError(f"model.input must be one of {INPUT_KINDS}, got {cfg.input!r}")
        check_tying(cfg)
        self.vocab_size = vocab_size
        self.one_hot = cfg.input == "one_hot"
        self.tied = bool(cfg.tie_embeddings)
        self.rates, self.locked = DropoutRates.from_config(cfg), bool(cfg.locked_dropout)
        input_size = vocab_size if self.one_hot else cfg.embed_dim
        if not self.one_hot:
            tied_init = {"embedding_init": nnx.initializers.normal(cfg.embed_dim**-0.5)} if self.tied else {}
            self.embed = nnx.Embed(vocab_size, cfg.embed_dim, rngs=rngs, **tied_init)
        cell_class, recurrence = get_cell(cfg.cell), resolve_recurrence(cfg.cell, cfg.recurrence)
        sizes = [input_size] + [cfg.hidden_size] * cfg.num_layers
        self.layers = nnx.List(
            [cell_class.from_config(sizes[i], cfg.hidden_size, cfg, rngs) for i in range(cfg.num_layers)]
        )
        for layer in self.layers:
            layer.recurrence = recurrence  # a static setting: model.recurrence, resolved for the cell
        if self.rates.weight > 0 and not all(hasattr(layer, "w_hh") for layer in self.layers):
            raise UsageError(f"model.weight_drop drops a cell's hidden-to-hidden weights w_hh; cell {cfg.cell!r} "
                             "has none: use --config.model.weight_drop=0")
        if self.tied:
            self.init_tied_output(cfg.hidden_size, cfg.embed_dim, rngs)
        else:
            self.output = nnx.Linear(cfg.hidden_size, vocab_size, rngs=rngs)

    def init_tied_output(self, hidden_size: int, embed_dim: int, rngs: nnx.Rngs) -> None:
        """The tied output layer's own parameters: a projection (when sizes differ) and a bias."""
        self.output_projection = (
            nnx.Linear(hidden_size, embed_dim, use_bias=False, rngs=rngs) if hidden_size != embed_dim else None
        )
        self.output_bias = nnx.Param(jnp.zeros((self.vocab_size,), jnp.float32))

    def zero_carry(self, batch_size: int) -> tuple[Carry, ...]:
        """The initial state: one zero carry per layer, each of [batch, hidden] arrays."""
        return tuple(layer.zero_carry(batch_size) for layer in self.layers)

    def embed_tokens(self, tokens: jax.Array) -> jax.Array:
        """tokens [batch, time] int -> [batch, time, embed_dim or vocab]."""
        if self.one_hot:
            return jax.nn.one_hot(tokens, self.vocab_size, dtype=jnp.float32)
        return self.embed(tokens)

    def set_compute_dtype(self, compute_dtype) -> None:
        """Makes every layer's matmuls take ``compute_dtype`` operands (float32 accumulation).

        Call it on a model merged for one computation (the train step does): it is
        a static setting of this instance, not a parameter.
        """
        for layer in self.layers:
            layer.compute_dtype = compute_dtype

    def features(
        self,
        tokens: jax.Array,
        carry: tuple[Carry, ...],
        *,
        dropout_key: jax.Array | None = None,
        time_major: bool = False,
        wavefront: bool = False,
    ) -> tuple[jax.Array, tuple[Carry, ...]]:
        """tokens [batch, time], carry -> (hidden [batch, time, hidden] after the last dropout, final carry).

        With ``time_major`` the hidden states come as [time, batch, hidden]: the
        layers run time-major, so this saves a transpose (the loss transposes
        its targets instead). With ``wavefront`` the layers run in the wavefront
        schedule (:mod:`rnngen.models.wavefront`), each cell's ``scan_step`` in one
        scan: the same values, faster for a forward pass; evaluation uses it, so it
        takes no ``dropout_key``.
        """
        if wavefront:
            if dropout_key is not None:
                raise ValueError("the wavefront schedule is for forward passes without dropout: no dropout_key")
            hidden, final = run_wavefront(self.layers, self.first_inputs(tokens.T), tokens.shape[1], carry)
        else:
            hidden, _, final = self.layered_features(tokens.T, carry, dropout_key)
        return (hidden if time_major else jnp.swapaxes(hidden, 0, 1)), final

    def layered_features(self, tokens, carry, dropout_key):
        """tokens [time, batch] -> (hidden [time, batch, hidden] after the last dropout, the last layer's
        outputs before it [time, batch, hidden], final carry): each layer's whole ``recur`` in turn, with
        dropout on the embedded input, between layers and after the last one, and weight drop, when keyed."""
        num_layers = len(self.layers)
        keys = [None] * (num_layers + 1) if dropout_key is None else list(jax.random.split(dropout_key, num_layers + 1))
        xs = self.first_projection(tokens, keys[0])
        new_carry = []
        for index, (layer, layer_carry, key) in enumerate(zip(self.layers, carry, keys[1:])):
            projected = xs if index == 0 else layer.project_inputs(xs)
            raw, layer_carry = self.recur_layer(layer, index, projected, layer_carry, dropout_key)
            rate = self.rates.output if index == num_layers - 1 else self.rates.hidden
            xs = dropout(raw, rate, key, self.locked)
            new_carry.append(layer_carry)
        return xs, raw, tuple(new_carry)

    def recur_layer(self, layer, index: int, projected, carry, dropout_key):
        """``layer.recur(projected, carry)``, with its w_hh weight-dropped for this call when keyed (the
        module's own weights are put back afterwards)."""
        if self.rates.weight <= 0 or dropout_key is None:
            return layer.recur(projected, carry)
        weights = layer.w_hh[...]
        layer.w_hh[...] = weight_drop(weights, self.rates.weight, dropout_key, index)
        try:
            return layer.recur(projected, carry)
        finally:
            layer.w_hh[...] = weights

    def first_projection(self, tokens: jax.Array, dropout_key: jax.Array | None) -> jax.Array:
        """tokens [time, batch] -> the first layer's projected inputs [time, batch, proj].

        Without input dropout, when the vocabulary is small (at most
        ``FOLD_SMALL_VOCAB`` entries: char models) or the block has at least as
        many tokens as the vocabulary has entries, the first layer's input
        projection runs once over the vocabulary (``[vocab, proj]``) and each
        token gathers its row: the same values as projecting every embedded
        token, for a fraction of the work. In the sampling loop XLA hoists the
        table out of the loop, so each new token costs a gather, not a matmul.
        """
        input_dropout = dropout_key is not None and (self.rates.input > 0.0 or self.rates.embed > 0.0)
        if input_dropout:
            table = embedding_dropout(self.input_table(), self.rates.embed, dropout_key)
            embedded = jnp.take(table, tokens, axis=0, mode="clip")
            return self.layers[0].project_inputs(dropout(embedded, self.rates.input, dropout_key, self.locked))
        if not self.folds_first_projection(tokens):
            return self.layers[0].project_inputs(self.embed_tokens(tokens))
        return jnp.take(self.projected_table(), tokens, axis=0, mode="clip")  # ids are < vocab: no fill select

    def folds_first_projection(self, tokens: jax.Array) -> bool:
        """Whether the first layer projects the vocabulary once instead of every token (see first_projection)."""
        return self.vocab_size <= FOLD_SMALL_VOCAB or tokens.size >= self.vocab_size

    def projected_table(self) -> jax.Array:
        """The first layer's input projection of every token: [vocab, proj]."""
        return self.layers[0].project_inputs(self.input_table())

    def first_inputs(self, tokens: jax.Array):
        """tokens [time, batch] -> ``t -> the first layer's projected inputs at step t [batch, proj]``, for
        the wavefront: rows of the projected vocabulary table gathered at each step when it folds (no
        [time, batch, proj] buffer), else steps of :meth:`first_projection` (no dropout)."""
        if not self.folds_first_projection(tokens):
            projected = self.first_projection(tokens, None)
            return lambda t: projected[t]
        table = self.projected_table()
        return lambda t: jnp.take(table, tokens[t], axis=0, mode="clip")

    def input_table(self) -> jax.Array:
        """Every token's input vector: the embedding matrix, or the identity for one-hot inputs [vocab, input]."""
        if self.one_hot:
            return jnp.eye(self.vocab_size, dtype=jnp.float32)
        return self.embed.embedding[...]

    def output_params(self) -> dict[str, jax.Array]:
        """The arrays of the output layer, as :func:`output_layer` takes them."""
        if not self.tied:
            return {"kernel": self.output.kernel[...], "bias": self.output.bias[...]}
        arrays = {"embedding": self.embed.embedding[...], "bias": self.output_bias[...]}
        if self.output_projection is not None:
            arrays["projection"] = self.output_projection.kernel[...]
        return arrays

    def logits(self, hidden: jax.Array) -> jax.Array:
        """The output layer: hidden [..., hidden] -> logits [..., vocab]."""
        return output_layer(self.output_params(), hidden)

    def __call__(
        self, tokens: jax.Array, carry: tuple[Carry, ...], *, dropout_key: jax.Array | None = None
    ) -> tuple[jax.Array, tuple[Carry, ...]]:
        """tokens [batch, time], carry -> (logits [batch, time, vocab], final carry)."""
        hidden, carry = self.features(tokens, carry, dropout_key=dropout_key)
        return self.logits(hidden), carry


def output_layer(arrays: dict[str, jax.Array], hidden: jax.Array) -> jax.Array:
    """hidden [..., hidden] -> logits [..., vocab], a pure function of the output layer's arrays.

    Untied: ``hidden @ kernel [hidden, vocab] + bias [vocab]``. Tied:
    ``(hidden @ projection [hidden, embed] if any) @ embedding [vocab, embed].T + bias``.
    The matmuls take the arrays' dtype (bfloat16 under ``train.compute_dtype=bfloat16``)
    and accumulate in float32; the logits are float32.
    """
    if "projection" in arrays:
        hidden = _matmul(hidden, arrays["projection"]).astype(hidden.dtype)
    if "embedding" in arrays:
        return _matmul(hidden, arrays["embedding"].T) + arrays["bias"]
    return _matmul(hidden, arrays["kernel"]) + arrays["bias"]


def _matmul(x: jax.Array, y: jax.Array) -> jax.Array:
    """x @ y accumulated in float32."""
    return jnp.matmul(x, y, preferred_element_type=jnp.float32)


def build_model(vocab_size: int, model_config, seed: int) -> RNNLanguageModel:
    """Builds the model with parameters initialised from ``seed``, as ``model.init`` says
    (:mod:`rnngen.models.initialization`)."""
    check_init(model_config.init)
    model = RNNLanguageModel(vocab_size, model_config, rngs=nnx.Rngs(params=seed))
    if model_config.init == "pytorch":
        initialize_like_pytorch(model, seed)
    return model


ApplyFn = Callable[..., tuple[jax.Array, Any]]


def make_apply_fn(graphdef: nnx.GraphDef) -> ApplyFn:
    """(params, tokens [batch, time], carry, dropout_key=None) -> (logits [batch, time, vocab], carry):
    the model as a pure function of its parameters (a pure dict), for the sampler."""

    def apply_fn(params, tokens, carry, dropout_key=None):
        return nnx.merge(graphdef, params)(tokens, carry, dropout_key=dropout_key)

    return apply_fn
