"""Flax NNX recurrent language models."""

from rnngen.models.cells import (
    GRUCell,
    LSTMCell,
    RecurrentCell,
    SimpleRNNCell,
    get_cell,
    register_cell,
    registered_cells,
)
from rnngen.models.language_model import RNNLanguageModel, build_model
from rnngen.models.regularization import dropout
from rnngen.models.parameters import parameter_counts

__all__ = [
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNNCell",
    "RNNLanguageModel",
    "build_model",
    "dropout",
    "get_cell",
    "parameter_counts",
    "register_cell",
    "registered_cells",
]
