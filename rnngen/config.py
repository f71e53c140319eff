"""The base configuration every config file starts from, and its documentation.

Config files in ``configs/`` call :func:`base_config` and change what they need;
every key below can be overridden on the command line as ``--config.KEY=VALUE``.
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict

# key -> one-line description, shown by `rnngen train --help`.
KEY_HELP: dict[str, str] = {
    "seed": "seed for parameter init, data order, dropout and eval samples",
    "data.source": "tiny_shakespeare | text | stdlib",
    "data.path": "file or directory of UTF-8 text (data.source=text)",
    "data.manual_dir": "directory holding karpathy's input.txt (offline tiny_shakespeare)",
    "data.data_dir": "TFDS data dir where prepared data is cached (default: TFDS's)",
    "data.split_fractions": "(train, validation, test) fractions for text and stdlib sources",
    "data.max_chars": "cap on the stdlib corpus size in characters (None: no cap)",
    "data.encoding_errors": "strict: non-UTF-8 or NUL bytes are an error naming file and offset | replace: bad bytes become U+FFFD",
    "tokenizer.kind": "char | word (regex words, punctuation, newlines) | subword (SentencePiece)",
    "tokenizer.lowercase": "lowercase the text before word tokenization (tokenizer.kind=word)",
    "tokenizer.min_count": "words seen fewer times in the training split become <unk> (word)",
    "tokenizer.max_size": "cap on the word vocabulary, <unk> included; 0: no cap (word)",
    "tokenizer.vocab_size": "SentencePiece vocabulary size (subword)",
    "tokenizer.subword_model": "bpe | unigram (subword)",
    "model.cell": "registered cell name: lstm | gru | rnn | your own",
    "model.cell_module": "a .py file or module name imported first; it registers your own cells",
    "model.recurrence": "how the recurrence runs: scan (lax.scan of the cell's step, the reference) | fused "
    "(the built-in cells' hand-written backward pass) | auto (fused where the cell has it, else scan)",
    "model.num_layers": "number of stacked recurrent layers",
    "model.hidden_size": "units per recurrent layer",
    "model.input": "embedding (learned) | one_hot (classic char-rnn)",
    "model.embed_dim": "embedding size (model.input=embedding)",
    "model.dropout": "dropout on the embedding, between layers and before the output layer",
    "model.forget_bias": "initial LSTM forget-gate bias",
    "model.tie_embeddings": "share the embedding matrix with the output layer (a projection maps hidden_size to embed_dim)",
    "train.batch_size": "number of parallel contiguous streams",
    "train.seq_len": "truncated-BPTT window length in tokens",
    "train.num_steps": "total optimizer steps (a resumed run continues to this)",
    "train.optimizer": "adam | adamw | rmsprop | sgd",
    "train.learning_rate": "peak learning rate",
    "train.weight_decay": "decoupled weight decay (adamw)",
    "train.momentum": "momentum (sgd, rmsprop)",
    "train.grad_clip": "clip gradients by global norm (0: off)",
    "train.skip_nonfinite": "skip steps with a NaN/inf loss, gradient or update (state kept, `skipped` logged) instead of stopping",
    "train.schedule": "constant | warmup_cosine",
    "train.warmup_steps": "linear warmup steps (warmup_cosine)",
    "train.final_lr_fraction": "cosine decays to learning_rate * this",
    "train.compute_dtype": "float32 | bfloat16: dtype of the recurrent matmuls (parameters, optimizer and loss stay float32)",
    "train.loss_chunk_size": "tokens per chunk of the output layer + loss; 0: auto (chunks of <= 32 MiB logits), -1: never chunk",
    "train.log_every": "steps between training-metric log lines",
    "train.eval_every": "steps between evaluations on the whole validation split",
    "train.eval_batch_size": "streams used by evaluation",
    "train.checkpoint_every": "steps between checkpoints",
    "train.keep_checkpoints": "how many latest checkpoints to keep (the best is kept too)",
    "train.sample_length": "tokens of the sample generated at every evaluation",
    "train.sample_temperature": "temperature of that sample",
    "train.fsdp": "split large parameters and optimizer state over the devices' data axis (FSDP) instead of replicating them",
    "train.fsdp_min_size": "with train.fsdp, arrays of fewer elements than this stay replicated",
    "distributed.initialize": "auto (join other processes when the launch has several: SLURM srun, Open MPI, TPU slice, a coordinator set) | on | off",
    "distributed.coordinator_address": "host:port of process 0 (None: from the cluster environment)",
    "distributed.num_processes": "number of processes of the run (None: from the cluster environment)",
    "distributed.process_id": "this process's index in [0, num_processes) (None: from the cluster environment)",
}


def base_config() -> ml_collections.ConfigDict:
    """A small LSTM on tiny_shakespeare; config files start from this."""
    config = ml_collections.ConfigDict()
    config.seed = 0

    config.data = ml_collections.ConfigDict()
    config.data.source = "tiny_shakespeare"
    config.data.path = config_dict.placeholder(str)
    config.data.manual_dir = config_dict.placeholder(str)
    config.data.data_dir = config_dict.placeholder(str)
    config.data.split_fractions = (0.9, 0.05, 0.05)
    config.data.max_chars = config_dict.placeholder(int)
    config.data.encoding_errors = "strict"

    config.tokenizer = ml_collections.ConfigDict()
    config.tokenizer.kind = "char"
    config.tokenizer.lowercase = False
    config.tokenizer.min_count = 1
    config.tokenizer.max_size = 0
    config.tokenizer.vocab_size = 2000
    config.tokenizer.subword_model = "bpe"

    config.model = ml_collections.ConfigDict()
    config.model.cell = "lstm"
    config.model.cell_module = config_dict.placeholder(str)
    config.model.recurrence = "auto"
    config.model.num_layers = 2
    config.model.hidden_size = 256
    config.model.input = "embedding"
    config.model.embed_dim = 64
    config.model.dropout = 0.0
    config.model.forget_bias = 1.0
    config.model.tie_embeddings = False

    config.train = ml_collections.ConfigDict()
    config.train.batch_size = 64
    config.train.seq_len = 100
    config.train.num_steps = 5000
    config.train.optimizer = "adam"
    config.train.learning_rate = 2e-3
    config.train.weight_decay = 0.0
    config.train.momentum = 0.9
    config.train.grad_clip = 5.0
    config.train.skip_nonfinite = False
    config.train.schedule = "constant"
    config.train.warmup_steps = 0
    config.train.final_lr_fraction = 0.1
    config.train.compute_dtype = "float32"
    config.train.loss_chunk_size = 0
    config.train.log_every = 50
    config.train.eval_every = 500
    config.train.eval_batch_size = 16
    config.train.checkpoint_every = 500
    config.train.keep_checkpoints = 3
    config.train.sample_length = 200
    config.train.sample_temperature = 0.8
    config.train.fsdp = False
    config.train.fsdp_min_size = 2**18

    config.distributed = ml_collections.ConfigDict()
    config.distributed.initialize = "auto"
    config.distributed.coordinator_address = config_dict.placeholder(str)
    config.distributed.num_processes = config_dict.placeholder(int)
    config.distributed.process_id = config_dict.placeholder(int)
    return config


def config_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """All leaf keys of ``config`` as dotted paths."""
    keys = []
    for name, value in config.items():
        path = f"{prefix}{name}"
        if isinstance(value, ml_collections.ConfigDict):
            keys.extend(config_keys(value, path + "."))
        else:
            keys.append(path)
    return keys
