"""Reading the text to score and printing a score (what `rnngen score` shows)."""

from __future__ import annotations

import json
import sys

from rnngen.errors import UsageError


def read_text_arg(path: str) -> str:
    """The UTF-8 text of file ``path``, or of stdin for "-"; a UsageError when it cannot be read."""
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a text file") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{path} is not UTF-8 text (byte {error.start}): {error.reason}") from None


def score_lines(result: dict, per_token: bool, as_json: bool) -> list[str]:
    """The lines `rnngen score` prints for a :meth:`rnngen.api.LanguageModel.score` result."""
    if as_json:
        keys = [k for k in result if per_token or not k.startswith("token_")]
        return [json.dumps({k: result[k] for k in keys})]
    lines = []
    if per_token:
        lines += [f"{json.dumps(t, ensure_ascii=False)}\t{b:.4f}" for t, b in zip(result["token_texts"], result["token_bits"])]
    lines.append(
        f"{result['bits']:.4f} bits, {result['bits_per_char']:.4f} bits/char, {result['bits_per_token']:.4f} bits/token, "
        f"{result['tokens']} tokens, {result['characters']} characters"
    )
    return lines
