"""The one exception type of the data package."""

from __future__ import annotations


class DataError(ValueError):
    """A corpus, path or data setting is unusable; the message says what to do."""
