"""Deterministic train/validation/test split of one text at character positions."""

from __future__ import annotations

import math

from rnngen.data.errors import DataError

SPLIT_NAMES = ("train", "validation", "test")


def check_fractions(fractions) -> tuple[float, float, float]:
    """Returns `fractions` as 3 floats >= 0 summing to 1 with train > 0, or raises."""
    fractions = tuple(float(f) for f in fractions)
    if (
        len(fractions) != 3
        or min(fractions) < 0
        or fractions[0] <= 0
        or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6)
    ):
        raise DataError(
            f"split_fractions={fractions} is invalid: give 3 fractions "
            "(train, validation, test), each >= 0, train > 0, summing to 1, "
            "e.g. --config.data.split_fractions='(0.9, 0.05, 0.05)'"
        )
    return fractions


def split_text(text: str, fractions) -> dict[str, str]:
    """Splits `text` into {"train", "validation", "test"} contiguous pieces.

    Same rule as the TFDS catalog's tiny_shakespeare: `i = int(n * train)`;
    `rest = text[i:]`; `j = int(len(rest) * validation / (validation + test))`;
    validation = rest[:j], test = rest[j:]. For (0.9, 0.05, 0.05) this is exactly
    the catalog's `int(len(rest) * 0.5)`.
    """
    return {name: text[start:stop] for name, (start, stop) in split_bounds(len(text), fractions).items()}


def split_bounds(n: int, fractions) -> dict[str, tuple[int, int]]:
    """{split: (start, stop)}: the character ranges :func:`split_text` cuts a text of ``n`` characters into."""
    f_train, f_val, f_test = check_fractions(fractions)
    i = int(n * f_train)
    j = int((n - i) * (f_val / (f_val + f_test))) if f_val + f_test > 0 else 0
    return {"train": (0, i), "validation": (i, i + j), "test": (i + j, n)}
