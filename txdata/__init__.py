"""txdata: the training data of seq2seq and BERT-style transformers, built from the same text."""

import os

# Nothing in txdata downloads: datasets' packaged builders read local files only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from txdata.batches import Batches
from txdata.config import DataConfig
from txdata.errors import (
    ConfigError,
    SourceError,
    TokenizerError,
    TxdataError,
    UnknownNameError,
)
from txdata.objectives import OBJECTIVES, Objective, objective_class
from txdata.objectives.clm import CausalLM, CausalLMOptions
from txdata.objectives.mlm import MaskedLM, MaskingConfig
from txdata.objectives.seq2seq import Seq2Seq, Seq2SeqOptions
from txdata.pipeline import PreparedData, prepare
from txdata.sources import SourceConfig, load_source
from txdata.special_tokens import IGNORE_INDEX, SPECIAL_TOKENS, SpecialIds

__all__ = [
    "IGNORE_INDEX",
    "OBJECTIVES",
    "SPECIAL_TOKENS",
    "Batches",
    "CausalLM",
    "CausalLMOptions",
    "ConfigError",
    "DataConfig",
    "MaskedLM",
    "MaskingConfig",
    "Objective",
    "PreparedData",
    "Seq2Seq",
    "Seq2SeqOptions",
    "SourceConfig",
    "SourceError",
    "SpecialIds",
    "TokenizerError",
    "TxdataError",
    "UnknownNameError",
    "load_source",
    "objective_class",
    "prepare",
]
