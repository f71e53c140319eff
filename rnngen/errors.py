"""Errors the CLI prints as one line on stderr: a user's mistake (exit 2) or a stop on request."""


class UsageError(ValueError):
    """A bad command line, config value, prompt or workdir: the message says what to do."""


class TrainingDiverged(UsageError):
    """A non-finite loss or gradient: training stops before anything bad is saved."""


class DiskFull(UsageError):
    """No space, quota or file size left while training wrote its workdir; the last checkpoint is intact."""


class TrainingInterrupted(Exception):
    """SIGTERM or SIGINT stopped training after the current step was checkpointed.

    ``signal_name`` is 'SIGTERM' or 'SIGINT'; the CLI maps it to the exit status
    and prints the message, which names the step saved and how to resume.
    """

    def __init__(self, message: str, signal_name: str):
        super().__init__(message)
        self.signal_name = signal_name
