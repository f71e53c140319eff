"""Word-level LSTMs on the Penn Treebank (Mikolov's pre-processing) in its published protocol.

    rnngen train --config configs/ptb_word.py:tied --workdir runs/ptb \
        --config.data.path=penn              # ptb.train.txt, ptb.valid.txt, ptb.test.txt (or train.txt ...)
    rnngen eval --workdir runs/ptb --split test --checkpoint best

Variants (``rnngen/protocols.py``): ``small``, ``tied``, ``medium_tied`` (PyTorch's
word_language_model), ``awd`` (AWD-LSTM's regularization, 500 epochs, batch 20, input dropout
0.4, hidden dropout 0.25 as its PTB command). Perplexity is per PTB token, <eos> included
(929,589 training tokens, a 10,000-word vocabulary).

Expected test perplexity, as published (not yet measured with rnngen: the corpus cannot be
downloaded on the development machines): ``awd`` 57.3 test / 60.0 validation with NT-ASGD and
fine-tuning (Merity et al. 2018, table 1), which rnngen does not have yet; Zaremba et al.'s
medium regularized LSTM (650 units, dropout 0.5), the model of ``medium_tied`` untied, 82.7 test.
"""

from rnngen.protocols import word_language_model

TRAIN_TOKENS = 929_589


def get_config(variant: str = "tied"):
    return word_language_model(variant, TRAIN_TOKENS, {"input_dropout": 0.4, "hidden_dropout": 0.25},
                               awd_batch_size=20, awd_epochs=500, name="ptb_word.py")
