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
from txdata.objectives import OBJECTIVES, MaskedLM, MaskingConfig, Seq2Seq
from txdata.pipeline import PreparedData, prepare
from txdata.sources import SourceConfig, load_source
from txdata.special_tokens import IGNORE_INDEX, SPECIAL_TOKENS, SpecialIds

__all__ = [
    "IGNORE_INDEX",
    "OBJECTIVES",
    "SPECIAL_TOKENS",
    "Batches",
    "ConfigError",
    "DataConfig",
    "MaskedLM",
    "MaskingConfig",
    "PreparedData",
    "Seq2Seq",
    "SourceConfig",
    "SourceError",
    "SpecialIds",
    "TokenizerError",
    "TxdataError",
    "UnknownNameError",
    "load_source",
    "prepare",
]
