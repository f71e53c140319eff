"""Character-level LSTM on text8 in its standard protocol: the first 90M characters train, the
next 5M validate, the last 5M test (text8 is ASCII: a-z and space, so characters are bytes).

    rnngen train --config configs/text8_char.py --workdir runs/text8 --config.data.path=text8
    rnngen eval --workdir runs/text8 --split test --checkpoint best

The model is enwik8_byte.py's (3 x 1840 LSTM, AWD-LSTM's regularization) on the 27-symbol
vocabulary. No rnngen figure yet (the corpus cannot be downloaded on the development
machines); compare with the text8 tables of the papers you follow, which report bits per
character on the last 5M characters. ``:quick`` is a 1x512 model for a first look on a GPU.
"""

import os

from rnngen.config_files import load_config

ENWIK8 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "enwik8_byte.py")


def get_config(variant: str = "full"):
    config = load_config(f"{ENWIK8}:{variant}")
    config.tokenizer.kind = "char"
    config.train.sample_length = 300
    return config
