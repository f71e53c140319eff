"""The Python API: ``rnngen.load(workdir)`` and what a loaded model can do."""

from __future__ import annotations

import os
import sys
from typing import Iterator, Sequence

import jax
import numpy as np

from rnngen.checkpoints.restoring import TrainedModel, load_trained
from rnngen.data.corpus import encode_split
from rnngen.data.sources import load_splits
from rnngen.decoding.beam_search import beam_search
from rnngen.decoding.incremental_text import IncrementalText
from rnngen.decoding.options import DecodingOptions, check_decoding_options
from rnngen.decoding.sampler import make_settings, sample_until
from rnngen.decoding.scoring import token_surprisals
from rnngen.decoding.stop_strings import build_stop_table
from rnngen.decoding.streaming import stream_tokens
from rnngen.decoding.texts import row_texts, separator
from rnngen.devices import data_mesh, place, rows_sharding, zero_carry_on
from rnngen.errors import UsageError

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
        self.mesh = data_mesh()
        self._eval_step = None

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
        repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, stop: str | Sequence[str] = (),
        num_beams: int = 1, length_penalty: float = 1.0, num_return_sequences: int | None = None,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        """Continuations of ``prompt`` by ``length`` (alias ``max_new_tokens``) tokens, each with the prompt in front.

        Sampling gives ``num_samples`` (alias ``num_return_sequences``) samples;
        ``num_beams > 1`` runs beam search instead and gives the best
        ``num_return_sequences`` (default 1) beams, best first (temperature, top_k,
        top_p and seed do not apply). ``repetition_penalty`` (1: off) and
        ``no_repeat_ngram_size`` (0: off) look at the prompt and the generated
        tokens (:mod:`rnngen.decoding.repetition`). A text ends before the first
        ``stop`` string its generated part contains (the stop string is not
        included); the compiled loop ends once every sample has stopped. The
        unknown token is never generated.
        """
        length = length if max_new_tokens is None else max_new_tokens
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        if num_return_sequences is not None and num_beams == 1:
            if num_samples not in (1, num_return_sequences):
                raise UsageError(f"num_samples={num_samples} and num_return_sequences={num_return_sequences} disagree")
            num_samples = num_return_sequences
        options = DecodingOptions(repetition_penalty, no_repeat_ngram_size, stops, num_beams, length_penalty,
                                  num_return_sequences or 1)
        check_sampling_args(length, temperature, top_k, top_p, num_samples)
        check_decoding_options(options, num_samples)
        prompt_ids = self.encode_prompt(prompt, allow_unknown)
        if num_beams > 1:
            return [prompt + beam["text"] for beam in self._beams(prompt_ids, length, options)]
        settings = make_settings(temperature, top_k, top_p, self.tokenizer.unk_id, repetition_penalty, no_repeat_ngram_size)
        return [prompt + text for text in self._samples(prompt_ids, length, num_samples, seed, settings, stops)]

    def _samples(self, prompt_ids: np.ndarray, length: int, num_samples: int, seed: int, settings, stops) -> list[str]:
        """``num_samples`` generated texts (prompt excluded) after prompt_ids int32 [prompt_len], cut at ``stops``.

        The samples (rows) are split over the devices when their count divides ``num_samples``,
        else every device runs all of them; the random bits, and so the texts, are the same either way.
        """
        rows = place(np.tile(prompt_ids[None, :], (num_samples, 1)), rows_sharding(self.mesh, num_samples))
        generated = sample_until(
            self.trained.apply_fn, self.trained.params, zero_carry_on(self.trained.model, num_samples, self.mesh),
            jax.random.PRNGKey(seed), rows, length, settings, build_stop_table(self.tokenizer, stops),
        )
        tokens, lengths, _ = jax.device_get(generated)
        texts = row_texts(self.tokenizer, tokens, lengths, stops)
        return [separator(self.tokenizer, prompt_ids[-1], row) + text if text else text for row, text in zip(tokens, texts)]

    def stream(
        self, prompt: str = "\n", length: int = 200, *, block: int = 64, temperature: float = 1.0, top_k: int = 0,
        top_p: float = 1.0, seed: int = 0, allow_unknown: bool = False, repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0, stop: str | Sequence[str] = (), max_new_tokens: int | None = None,
    ) -> Iterator[str]:
        """Yields the prompt, then the generated text in pieces as it is generated (in compiled
        blocks of ``block`` tokens); the pieces join into exactly :meth:`generate`'s text for
        the same arguments. One sample; options as :meth:`generate_many`."""
        length = length if max_new_tokens is None else max_new_tokens
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        check_sampling_args(length, temperature, top_k, top_p, 1)
        check_decoding_options(DecodingOptions(repetition_penalty, no_repeat_ngram_size, stops))
        if block <= 0:
            raise UsageError(f"block must be > 0 tokens, got {block}")
        prompt_ids = self.encode_prompt(prompt, allow_unknown)
        settings = make_settings(temperature, top_k, top_p, self.tokenizer.unk_id, repetition_penalty, no_repeat_ngram_size)
        text = IncrementalText(self.tokenizer, stops)
        yield prompt
        for ids in stream_tokens(
            self.trained.apply_fn, self.trained.params, self.trained.model.zero_carry(1), jax.random.PRNGKey(seed),
            prompt_ids[None, :], length, settings, build_stop_table(self.tokenizer, stops), block,
        ):
            yield self._after_prompt(text.push(ids), text, prompt_ids)
            if text.stopped:  # word models stop here: their loop cannot see stop strings
                break
        yield self._after_prompt(text.finish(), text, prompt_ids)

    def _after_prompt(self, piece: str, text: IncrementalText, prompt_ids: np.ndarray) -> str:
        """``piece`` of streamed text, with the separator after the prompt in front of the first one."""
        if piece and text.sent == len(piece):  # the first text of the stream
            return separator(self.tokenizer, prompt_ids[-1], text.ids[:1]) + piece
        return piece

    def generate(self, prompt: str = "\n", length: int = 200, **options) -> str | list[str]:
        """One continuation of ``prompt`` (prompt included); options as :meth:`generate_many`.

        With ``num_return_sequences > 1``, the list of them.
        """
        texts = self.generate_many(prompt, length, **options)
        return texts if len(texts) > 1 else texts[0]

    def generate_beams(
        self, prompt: str = "\n", length: int = 200, *, num_beams: int = 4, length_penalty: float = 1.0,
        num_return_sequences: int = 1, stop: str | Sequence[str] = (), allow_unknown: bool = False,
    ) -> list[dict]:
        """Beam search: the best ``num_return_sequences`` beams, best first, as
        {"text" (generated text, prompt excluded, cut at a stop string), "log_prob"
        (natural log-probability of the generated tokens), "score" (log_prob /
        length ** length_penalty)}."""
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        options = DecodingOptions(num_beams=num_beams, length_penalty=length_penalty,
                                  num_return_sequences=num_return_sequences, stop=stops)
        check_sampling_args(length, 1.0, 0, 1.0, 1)
        check_decoding_options(options)
        return self._beams(self.encode_prompt(prompt, allow_unknown), length, options)

    def _beams(self, prompt_ids: np.ndarray, length: int, options: DecodingOptions) -> list[dict]:
        """Beam search from prompt_ids int32 [prompt_len]; see :meth:`generate_beams`."""
        beams = jax.device_get(beam_search(
            self.trained.apply_fn, self.trained.params, self.trained.model.zero_carry(1), prompt_ids[None, :],
            length, options.num_beams, options.length_penalty, self.tokenizer.unk_id,
        ))
        kept = slice(0, options.num_return_sequences)
        texts = row_texts(self.tokenizer, beams.tokens[0, kept], None, options.stop)
        return [{"text": text, "log_prob": float(lp), "score": float(score)}
                for text, lp, score in zip(texts, beams.log_probs[0, kept], beams.scores[0, kept])]

    def score(self, text: str) -> dict:
        """How surprising ``text`` is to the model, read from the zero state as one stream.

        Returns {"bits" (total negative log2-likelihood of every token after the
        first), "bits_per_char" (over the characters the predicted tokens cover, as
        ``evaluate``'s bpc), "bits_per_token", "tokens" (predicted tokens),
        "characters", "token_texts" and "token_bits" (each predicted token's text,
        from its start to the next token's start, and its surprisal in bits, in order)}.
        """
        encoded = encode_split(self.tokenizer, text)
        if len(encoded.ids) < 2:
            raise UsageError("the text has fewer than 2 tokens: the first token is not predicted, so there is nothing to score")
        bits = token_surprisals(self.trained.apply_fn, self.trained.params, self.trained.model.zero_carry(1), encoded.ids)
        total, num_chars = float(bits.sum()), encoded.num_chars
        ends = [*encoded.starts[2:].tolist(), len(text)]
        return {
            "bits": total, "bits_per_char": total / max(num_chars, 1), "bits_per_token": total / len(bits),
            "tokens": len(bits), "characters": num_chars,
            "token_texts": [text[a:b] for a, b in zip(encoded.starts[1:].tolist(), ends)],
            "token_bits": bits.tolist(),
        }

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
        from rnngen.train.evaluation import evaluate, evaluate_with_resets  # sampling never imports the trainer

        batch_size = self.config.train.eval_batch_size
        zero_carry = zero_carry_on(self.trained.model, batch_size, self.mesh)
        if reset_every is not None:  # needs each token's character offset: the split's text, encoded here
            encoded = encode_split(self.tokenizer, load_splits(self.config.data)[split])
            return evaluate_with_resets(self.eval_step(), self.trained.params, zero_carry, encoded, reset_every, batch_size)
        encoded = self._prepared_split(split)
        return evaluate(
            self.eval_step(), self.trained.params, zero_carry, encoded, batch_size, self.config.train.seq_len,
            self.tokenizer.unk_id,
        )

    def eval_step(self):
        """The training run's jitted eval step (:func:`rnngen.train.train.make_eval_step`), built on first
        use; its rows split over the devices when their count divides ``train.eval_batch_size``."""
        if self._eval_step is None:
            from rnngen.train.sharding import dispatch_window, sharded_eval_step
            from rnngen.train.train import make_eval_step, make_loss_fn

            train = self.config.train
            loss_fn = make_loss_fn(self.trained.graphdef, train.loss_chunk_size, train.compute_dtype)
            self._eval_step = sharded_eval_step(make_eval_step(loss_fn), self.mesh, train.eval_batch_size, dispatch_window())
        return self._eval_step

    def _prepared_split(self, split: str):
        """The training corpus's ``split`` from the token store (prepared by training, or here once)."""
        from rnngen.data.token_store import prepare_splits

        _, splits = prepare_splits(self.config.data, self.config.tokenizer, self.tokenizer.to_json(), names=(split,))
        return splits[split]


def check_workdir_exists(workdir: str) -> None:
    """A UsageError unless ``workdir`` is an existing directory (loading never creates one)."""
    if not os.path.exists(workdir):
        raise UsageError(f"workdir {workdir} does not exist: pass the --workdir of a run trained with `rnngen train`")
    if not os.path.isdir(workdir):
        raise UsageError(f"workdir {workdir} is a file, not a directory: pass the --workdir of a run trained with `rnngen train`")


def load(workdir: str, checkpoint: str | int = "latest") -> LanguageModel:
    """Loads checkpoint 'latest', 'best' or a step number from ``workdir``."""
    check_workdir_exists(workdir)
    return LanguageModel(load_trained(workdir, checkpoint))
