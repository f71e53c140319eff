"""Decoding options beyond temperature/top-k/top-p, and their checks (before any model loads)."""

from __future__ import annotations

from typing import NamedTuple

from rnngen.errors import UsageError


class DecodingOptions(NamedTuple):
    """repetition_penalty (1: off), no_repeat_ngram_size (0: off), stop strings, num_beams
    (1: sampling), length_penalty (beam scores), num_return_sequences (beams returned)."""

    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    stop: tuple[str, ...] = ()
    num_beams: int = 1
    length_penalty: float = 1.0
    num_return_sequences: int = 1


def check_decoding_options(options: DecodingOptions, num_samples: int = 1) -> None:
    """Raises a UsageError naming the first bad or conflicting option."""
    if not options.repetition_penalty > 0:
        raise UsageError(f"repetition_penalty must be > 0 (1 is off), got {options.repetition_penalty}")
    if options.no_repeat_ngram_size < 0:
        raise UsageError(f"no_repeat_ngram_size must be >= 0 (0 is off), got {options.no_repeat_ngram_size}")
    if any(not isinstance(s, str) or not s for s in options.stop):
        raise UsageError(f"stop strings must be non-empty text, got {list(options.stop)!r}")
    if options.num_beams < 1:
        raise UsageError(f"num_beams must be >= 1 (1 is sampling), got {options.num_beams}")
    if options.num_return_sequences < 1:
        raise UsageError(f"num_return_sequences must be >= 1, got {options.num_return_sequences}")
    if options.num_beams > 1:
        check_beam_options(options, num_samples)


def check_beam_options(options: DecodingOptions, num_samples: int) -> None:
    """Beam search returns beams, not samples, and has no repetition control."""
    if options.num_return_sequences > options.num_beams:
        raise UsageError(
            f"num_return_sequences={options.num_return_sequences} cannot exceed num_beams={options.num_beams}"
        )
    if num_samples != 1:
        raise UsageError("num_samples does not combine with num_beams > 1: use num_return_sequences for several beams")
    if options.repetition_penalty != 1.0 or options.no_repeat_ngram_size:
        raise UsageError("repetition_penalty and no_repeat_ngram_size apply to sampling, not to beam search (num_beams > 1)")
