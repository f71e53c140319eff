"""A local UTF-8 text file, or a directory of them, as train/validation/test.

Directory rule: every regular file below it (recursively, hidden files and
directories skipped) whose extension is in `TEXT_EXTENSIONS`, in sorted path
order, joined with "\\n". A single file is read whatever its extension. A
directory that holds a corpus already split (train.txt, valid.txt, test.txt, ...)
is refused: joining and cutting it would train on its test text; source
`splits` reads it.

Bytes that are not UTF-8 are an error naming the file and the byte offset
(`encoding_errors="strict"`), or become U+FFFD (`encoding_errors="replace"`).
In strict mode a NUL byte marks a binary file.
"""

from __future__ import annotations

import os

from rnngen.data.chunks import (
    Chunks,
    Corpus,
    char_slice,
    check_encoding_errors,
    count_chars,
    file_chunks,
    files_identity,
    joined,
    line_aligned,
)
from rnngen.data.errors import DataError
from rnngen.data.split_files import find_layout
from rnngen.data.splitting import SPLIT_NAMES, check_fractions, split_bounds

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst", ".py", ".tex", ".csv", ".json", ".html", ".xml"})


def text_corpus(path: str, fractions, encoding_errors: str = "strict") -> Corpus:
    """{"train", "validation", "test"}: the chunks of the pieces cut from `path` (see
    :func:`rnngen.data.splitting.split_text`). The files are read only when chunks are asked
    for: once to count the characters (the cut points), then piece by piece."""
    check_fractions(fractions)  # Before reading a possibly large corpus.
    check_encoding_errors(encoding_errors)
    if not os.path.exists(path):
        raise DataError(f"{path} does not exist: pass --config.data.path=FILE_OR_DIR")
    files = _text_files(path) if os.path.isdir(path) else [path]
    if not files:
        raise DataError(
            f"{path} holds no text files (extensions {' '.join(sorted(TEXT_EXTENSIONS))}): "
            "add some, or pass --config.data.path=FILE"
        )
    sources = [lambda f=f: file_chunks(f, encoding_errors) for f in files]
    text = lambda: joined(sources)  # noqa: E731
    bounds = {}

    def split(name: str) -> Chunks:
        def chunks():
            if not bounds:
                n = count_chars(text())
                if not n:
                    raise DataError(f"{path} is empty: give a non-empty UTF-8 text corpus with --config.data.path")
                bounds.update(split_bounds(n, fractions))
            return line_aligned(char_slice(text(), *bounds[name]))
        return chunks

    identity = {"source": "text", "files": files_identity(files), "split_fractions": list(fractions),
                "encoding_errors": encoding_errors}
    return Corpus({name: split(name) for name in SPLIT_NAMES}, identity)


def _text_files(directory: str) -> list[str]:
    """Sorted paths of the text files below `directory`, hidden ones skipped."""
    found = []
    for root, dirs, names in os.walk(directory, onerror=_unreadable):
        if find_layout(root):
            raise DataError(
                f"{root} holds a corpus split into files ({', '.join(map(os.path.basename, find_layout(root)))}): "
                f"source 'text' would join and re-cut them; pass --config.data.source=splits --config.data.path={root}"
            )
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            os.path.join(root, n)
            for n in names
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in TEXT_EXTENSIONS
        ]
    return sorted(found)


def _unreadable(error: OSError) -> None:
    raise DataError(f"{error.filename} cannot be read ({error.strerror}): fix its permissions or remove it")
