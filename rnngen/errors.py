"""Errors that stand for a user's mistake: the CLI prints them as one line and exits 2."""


class UsageError(ValueError):
    """A bad command line, config value, prompt or workdir: the message says what to do."""


class TrainingDiverged(UsageError):
    """A non-finite loss or gradient: training stops before anything bad is saved."""
