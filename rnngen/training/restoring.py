"""Loading a trained model from a workdir alone."""

from __future__ import annotations

from typing import Any, NamedTuple

from rnngen.data.tokenizers import tokenizer_from_json
from rnngen.models.language_model import RNNLanguageModel
from rnngen.training.checkpointing import Checkpointer, config_from_meta
from rnngen.training.setup import abstract_state, build_setup
from rnngen.training.steps import ApplyFn, LossFn


class TrainedModel(NamedTuple):
    """A checkpoint ready for sampling (``apply_fn``) and evaluation (``loss_fn``)."""

    config: Any
    tokenizer: Any
    model: RNNLanguageModel
    apply_fn: ApplyFn
    params: Any
    step: int
    loss_fn: LossFn


def load_trained(workdir: str, which: str | int = "latest") -> TrainedModel:
    """Restores the checkpoint ``which`` ('latest', 'best' or a step) of ``workdir``."""
    checkpointer = Checkpointer(workdir, create=False)  # loading never writes
    try:
        step = checkpointer.resolve(which)
        meta = checkpointer.restore_meta(step)
        config = config_from_meta(meta)
        tokenizer = tokenizer_from_json(meta["tokenizer"])
        fresh = build_setup(config, tokenizer.vocab_size)
        state = checkpointer.restore_state(step, abstract_state(fresh.state))
    finally:
        checkpointer.close()
    return TrainedModel(config, tokenizer, fresh.model, fresh.apply_fn, state.params, step, fresh.loss_fn)
