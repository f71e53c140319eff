"""rnngen: recurrent neural networks that learn a text corpus and generate new text."""

__version__ = "0.1.0"


def load(workdir: str, checkpoint: str | int = "latest"):
    """Loads a trained model from ``workdir`` ('latest', 'best' or a step); see rnngen.api."""
    from rnngen.api import load as _load

    return _load(workdir, checkpoint)


__all__ = ["load", "__version__"]
