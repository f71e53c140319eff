"""The Python API: ``rnngen.load(workdir)`` and what a loaded model can do."""

from __future__ import annotations

import sys

import jax
import numpy as np

from rnngen.data.corpus import encode_split, load_corpus
from rnngen.errors import UsageError
from rnngen.sampling import sample
from rnngen.training.context_eval import evaluate_with_resets
from rnngen.training.evaluation import evaluate
from rnngen.training.restoring import TrainedModel, load_trained
from rnngen.training.steps import make_eval_step

SPLITS = ("train", "validation", "test")


def check_sampling_args(length: int, temperature: float, top_k: int, top_p: float, num_samples: int) -> None:
    """Raises a UsageError naming the first out-of-range sampling argument."""
    if length <= 0:
        raise UsageError(f"length must be > 0, got {length}")
    if temperature < 0:
        raise UsageError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
    if top_k < 0:
        raise UsageError(f"top_k must be >= 0 (0 is off), got {top_k}")
    if not 0 < top_p <= 1:
        raise UsageError(f"top_p must be in (0, 1] (1 is off), got {top_p}")
    if num_samples <= 0:
        raise UsageError(f"num_samples must be > 0, got {num_samples}")


class LanguageModel:
    """A trained model restored from a workdir."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained
        self.tokenizer = trained.tokenizer
        self.config = trained.config
        self.step = trained.step
        self._eval_step = make_eval_step(self.trained.loss_fn)  # compiled on first use
        self._texts = None

    def encode_prompt(self, prompt: str, allow_unknown: bool = False) -> np.ndarray:
        """prompt -> int32 ids [len].

        Pieces outside the vocabulary are a UsageError naming them, or, with
        ``allow_unknown``, become the unknown token with a warning on stderr.
        """
        ids = np.asarray(self.tokenizer.encode(prompt), np.int32)
        if not len(ids):
            raise UsageError(f"the prompt {prompt!r} has no tokens; give some text, e.g. --prompt $'\\n'")
        unknown = self.tokenizer.unknown_tokens(prompt)
        if unknown:
            what = "characters" if self.tokenizer.type_name == "char" else "words"
            listed = ", ".join(repr(piece) for piece in unknown)
            if not allow_unknown:
                raise UsageError(
                    f"the prompt has {what} the model never saw in training: {listed}; "
                    "rephrase it, or pass --allow-unknown to read them as the unknown token"
                )
            print(f"rnngen: warning: the prompt's unknown {what} {listed} are read as the unknown token", file=sys.stderr)
        return ids

    def generate_many(
        self, prompt: str = "\n", length: int = 200, *, num_samples: int = 1, temperature: float = 1.0,
        top_k: int = 0, top_p: float = 1.0, seed: int = 0, allow_unknown: bool = False,
    ) -> list[str]:
        """``num_samples`` continuations of ``prompt`` by ``length`` tokens, each with the prompt in front.

        The unknown token is never generated.
        """
        check_sampling_args(length, temperature, top_k, top_p, num_samples)
        prompt_ids = np.tile(self.encode_prompt(prompt, allow_unknown)[None, :], (num_samples, 1))
        ids = sample(
            self.trained.apply_fn, self.trained.params, self.trained.model.zero_carry(num_samples),
            jax.random.PRNGKey(seed), prompt_ids, length, temperature=temperature, top_k=top_k, top_p=top_p,
            banned_id=self.tokenizer.unk_id,
        )
        return [prompt + self.tokenizer.decode(row) for row in np.asarray(ids)]

    def generate(self, prompt: str = "\n", length: int = 200, **options) -> str:
        """One continuation of ``prompt`` (prompt included); options as :meth:`generate_many`."""
        return self.generate_many(prompt, length, num_samples=1, **options)[0]

    def evaluate(self, split: str = "validation", reset_every: int | None = None) -> dict[str, float]:
        """Metrics over a whole split of the training corpus: loss (nats/token), bits_per_token,
        bpc (bits per character, comparable across tokenizations), perplexity (per token),
        unk_rate (fraction of unknown target tokens), tokens and characters.

        ``reset_every=k`` starts the state from zero every k characters of the split
        (how much context the model uses); by default the state flows through
        ``train.eval_batch_size`` contiguous streams.
        """
        if split not in SPLITS:
            raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if reset_every is not None and reset_every <= 0:
            raise UsageError(f"reset_every must be > 0 characters, got {reset_every}")
        encoded = encode_split(self.tokenizer, self._split_texts()[split])
        batch_size = self.config.train.eval_batch_size
        zero_carry = self.trained.model.zero_carry(batch_size)
        if reset_every is not None:
            return evaluate_with_resets(self._eval_step, self.trained.params, zero_carry, encoded, reset_every, batch_size)
        return evaluate(
            self._eval_step, self.trained.params, zero_carry, encoded, batch_size, self.config.train.seq_len,
            self.tokenizer.unk_id,
        )

    def _split_texts(self) -> dict[str, str]:
        """The training corpus' splits, loaded once."""
        if self._texts is None:
            _, self._texts = load_corpus(self.config.data, self.config.tokenizer, self.tokenizer.to_json())
        return self._texts


def load(workdir: str, checkpoint: str | int = "latest") -> LanguageModel:
    """Loads checkpoint 'latest', 'best' or a step number from ``workdir``."""
    return LanguageModel(load_trained(workdir, checkpoint))
