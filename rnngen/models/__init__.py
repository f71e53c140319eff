"""Flax NNX recurrent language models."""

from rnngen.models.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell, get_cell, register_cell, registered_cells
from rnngen.models.language_model import RNNLanguageModel, build_model, dropout, zero_carry

__all__ = [
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNNCell",
    "RNNLanguageModel",
    "build_model",
    "dropout",
    "get_cell",
    "register_cell",
    "registered_cells",
    "zero_carry",
]
