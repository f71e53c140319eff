"""Loading a trained model from a workdir alone, for inference: only its parameters are read.

Nothing here imports the trainer: the model's structure comes from the config saved in
the checkpoint (built abstractly, without initialising any weights), its parameters from
the checkpoint's ``params`` (the optimizer state is never read), checked against their
digest.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from flax import nnx

from rnngen.checkpoints.fallback import GoodCheckpoints, report_load_fallback
from rnngen.checkpoints.manager import Checkpointer, config_from_meta
from rnngen.data.tokenizers import tokenizer_from_json
from rnngen.devices import data_mesh, replicated
from rnngen.models.language_model import ApplyFn, RNNLanguageModel, build_model, make_apply_fn
from rnngen.models.plugins import import_cell_module


class TrainedModel(NamedTuple):
    """A checkpoint ready for sampling (``apply_fn`` of ``params``) and evaluation (``graphdef``,
    from which :func:`rnngen.train.train.make_loss_fn` builds the loss)."""

    config: Any
    tokenizer: Any
    model: RNNLanguageModel
    apply_fn: ApplyFn
    params: Any
    step: int
    graphdef: nnx.GraphDef


def abstract_model(config, vocab_size: int) -> tuple[nnx.GraphDef, nnx.State]:
    """The graph of the model ``config`` describes and its state of ShapeDtypeStructs (no weights
    are initialised)."""
    import_cell_module(config.model.cell_module)
    model = nnx.eval_shape(lambda: build_model(vocab_size, config.model, config.seed))
    return nnx.split(model)


def load_trained(workdir: str, which: str | int = "latest") -> TrainedModel:
    """Restores the parameters of checkpoint ``which`` ('latest', 'best' or a step) of ``workdir``.

    A corrupt 'latest' or 'best' checkpoint is skipped for the next good one, with
    a warning on stderr; a corrupt step asked for by number is a UsageError.
    The parameters are replicated on every device, whatever devices wrote them.
    """
    checkpointer = Checkpointer(workdir, create=False)  # loading never writes
    built = {}

    def abstract_params_for(meta: dict):
        config = config_from_meta(meta)
        tokenizer = tokenizer_from_json(meta["tokenizer"])
        graphdef, state = abstract_model(config, tokenizer.vocab_size)
        built.update(config=config, tokenizer=tokenizer, graphdef=graphdef, state=state)
        sharding = replicated(data_mesh())
        shapes = nnx.to_pure_dict(state)
        return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), shapes)

    try:
        walker = GoodCheckpoints(checkpointer, checkpointer.candidates(which))
        found = walker.restore(abstract_params_for, params_only=True)
        report_load_fallback(checkpointer, walker, which, found)
    finally:
        checkpointer.close()
    step, _, params = found
    state = built["state"]
    nnx.replace_by_pure_dict(state, params)
    model = nnx.merge(built["graphdef"], state)
    graphdef = built["graphdef"]
    return TrainedModel(built["config"], built["tokenizer"], model, make_apply_fn(graphdef), params, step, graphdef)
