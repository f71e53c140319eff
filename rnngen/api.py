"""The Python API: ``rnngen.load(workdir)`` and what a loaded model can do."""

from __future__ import annotations

import jax
import numpy as np

from rnngen.data.corpus import encode_split, load_corpus
from rnngen.errors import UsageError
from rnngen.sampling import sample
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
        self._eval_step = None

    def encode_prompt(self, prompt: str) -> np.ndarray:
        """prompt -> int32 ids [len]; unknown characters are a UsageError."""
        if not prompt:
            raise UsageError("the prompt is empty; give at least one character, e.g. --prompt $'\\n'")
        unknown = self.tokenizer.unknown_chars(prompt)
        if unknown:
            raise UsageError(f"the prompt has characters the model never saw in training: {''.join(unknown)!r}")
        return np.asarray(self.tokenizer.encode(prompt), np.int32)

    def generate_many(
        self, prompt: str = "\n", length: int = 200, *, num_samples: int = 1, temperature: float = 1.0,
        top_k: int = 0, top_p: float = 1.0, seed: int = 0,
    ) -> list[str]:
        """``num_samples`` continuations of ``prompt`` by ``length`` tokens, each with the prompt in front."""
        check_sampling_args(length, temperature, top_k, top_p, num_samples)
        prompt_ids = np.tile(self.encode_prompt(prompt)[None, :], (num_samples, 1))
        ids = sample(
            self.trained.apply_fn, self.trained.params, self.trained.model.zero_carry(num_samples),
            jax.random.PRNGKey(seed), prompt_ids, length, temperature=temperature, top_k=top_k, top_p=top_p,
        )
        return [prompt + self.tokenizer.decode(row) for row in np.asarray(ids)]

    def generate(self, prompt: str = "\n", length: int = 200, **options) -> str:
        """One continuation of ``prompt`` (prompt included); options as :meth:`generate_many`."""
        return self.generate_many(prompt, length, num_samples=1, **options)[0]

    def evaluate(self, split: str = "validation") -> dict[str, float]:
        """loss (nats/token), bpc, perplexity and token count over a whole split of the training corpus."""
        if split not in SPLITS:
            raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        _, texts = load_corpus(self.config.data, self.tokenizer.to_json())
        if self._eval_step is None:
            self._eval_step = make_eval_step(self.trained.apply_fn)
        batch_size = self.config.train.eval_batch_size
        return evaluate(
            self._eval_step, self.trained.params, self.trained.model.zero_carry(batch_size),
            encode_split(self.tokenizer, texts[split]), batch_size, self.config.train.seq_len,
        )


def load(workdir: str, checkpoint: str | int = "latest") -> LanguageModel:
    """Loads checkpoint 'latest', 'best' or a step number from ``workdir``."""
    return LanguageModel(load_trained(workdir, checkpoint))
