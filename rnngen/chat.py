"""`rnngen chat`: a prompt loop in the terminal.

Each input line is a prompt: the model's continuation of it is printed as it is
generated (streamed). Lines starting with ":" change the settings. After each
continuation the seed goes up by one, so the same line twice gives two different
continuations, and a session replays exactly from the same starting seed.
"""

from __future__ import annotations

from typing import Callable

from rnngen.errors import UsageError
from rnngen.escapes import unescape

HELP = """commands (anything else is a prompt the model continues):
  :temperature T        softmax temperature, 0 is greedy
  :top_k K              sample among the K most likely tokens, 0 is off
  :top_p P              nucleus mass in (0, 1], 1 is off
  :length N             new tokens per continuation
  :seed S               PRNG seed of the next continuation (then S + 1, ...)
  :repetition_penalty R CTRL repetition penalty, 1 is off
  :no_repeat_ngram_size N  never repeat an N-gram, 0 is off
  :stop TEXT            end continuations before TEXT (\\n is a newline); ':stop' alone clears
  :settings             show the settings
  :help                 this text
  :quit                 leave (Ctrl-D too)"""

SETTING_TYPES = {"temperature": float, "top_k": int, "top_p": float, "length": int, "seed": int,
                 "repetition_penalty": float, "no_repeat_ngram_size": int}


def default_settings() -> dict:
    return {"temperature": 0.8, "top_k": 0, "top_p": 1.0, "length": 200, "seed": 0,
            "repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "stop": ()}


def apply_command(line: str, settings: dict) -> str | None:
    """Changes ``settings`` for the command ``line`` (":name value"); returns what to print,
    or None for :quit. A bad command or value is a UsageError."""
    name, _, value = line[1:].strip().partition(" ")
    if name == "quit":
        return None
    if name == "help":
        return HELP
    if name == "settings":
        return ", ".join(f"{k}={v!r}" for k, v in settings.items())
    if name == "stop":
        settings["stop"] = (unescape(value),) if value else ()
        return f"stop={settings['stop']!r}"
    if name not in SETTING_TYPES:
        raise UsageError(f"unknown command :{name}; :help lists the commands")
    try:
        settings[name] = SETTING_TYPES[name](value.strip())
    except ValueError:
        raise UsageError(f":{name} needs a{'n integer' if SETTING_TYPES[name] is int else ' number'}, got {value.strip()!r}") from None
    return f"{name}={settings[name]!r}"


def continue_line(model, line: str, settings: dict, write: Callable[[str], None]) -> None:
    """Streams the model's continuation of ``line`` with ``settings``, then advances the seed."""
    options = {k: v for k, v in settings.items() if k != "length"}
    pieces = model.stream(line, settings["length"], **options)
    next(pieces)  # the prompt itself: the user has just typed it
    for piece in pieces:
        write(piece)
    write("\n")
    settings["seed"] += 1


def chat(model, read_line: Callable[[str], str], write: Callable[[str], None]) -> None:
    """The loop: ``read_line(prompt)`` returns a line (EOFError ends), ``write(text)`` prints."""
    settings = default_settings()
    write("rnngen chat: type text and the model continues it; :help lists the commands, :quit leaves.\n")
    while True:
        try:
            line = read_line("> ")
        except EOFError:
            write("\n")
            return
        try:
            if line.startswith(":"):
                shown = apply_command(line, settings)
                if shown is None:
                    return
                write(shown + "\n")
            elif line:
                continue_line(model, line, settings, write)
        except UsageError as error:
            write(f"error: {error}\n")
