"""Loading a trained model from a workdir alone."""

from __future__ import annotations

from typing import Any, NamedTuple

from rnngen.checkpoints.fallback import GoodCheckpoints, report_load_fallback
from rnngen.checkpoints.manager import Checkpointer, config_from_meta
from rnngen.data.tokenizers import tokenizer_from_json
from rnngen.models.language_model import RNNLanguageModel
from rnngen.train.sharding import data_mesh, state_shardings
from rnngen.train.train import ApplyFn, LossFn, abstract_state, build_setup


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
    """Restores the checkpoint ``which`` ('latest', 'best' or a step) of ``workdir``.

    A corrupt 'latest' or 'best' checkpoint is skipped for the next good one, with
    a warning on stderr; a corrupt step asked for by number is a UsageError.
    The parameters are replicated on every device, whatever devices wrote them.
    """
    checkpointer = Checkpointer(workdir, create=False)  # loading never writes
    built = {}

    def abstract_for(meta: dict):
        config = config_from_meta(meta)
        tokenizer = tokenizer_from_json(meta["tokenizer"])
        built.update(config=config, tokenizer=tokenizer, fresh=build_setup(config, tokenizer.vocab_size))
        fresh_state = built["fresh"].state
        return abstract_state(fresh_state, state_shardings(fresh_state, data_mesh()))

    try:
        walker = GoodCheckpoints(checkpointer, checkpointer.candidates(which))
        found = walker.restore(abstract_for)
        report_load_fallback(checkpointer, walker, which, found)
    finally:
        checkpointer.close()
    step, _, state = found
    config, tokenizer, fresh = built["config"], built["tokenizer"], built["fresh"]
    return TrainedModel(config, tokenizer, fresh.model, fresh.apply_fn, state.params, step, fresh.loss_fn)
