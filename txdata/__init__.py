"""txdata: the training data of seq2seq and BERT-style transformers, built from the same text.

Importing it imports no torch, datasets or pyarrow: the configs and the objectives describe
themselves without them (`txdata --help` lists every option in a fraction of a second). The
names that build data, `prepare`, `PreparedData` and `Batches`, import them when first read.
"""

import importlib
import os

# Nothing in txdata downloads: datasets' packaged builders read local files only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

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

# Their modules import torch and datasets as they load (`Batches` is a torch `Dataset`).
_BUILDING = {
    "Batches": "txdata.batches",
    "PreparedData": "txdata.pipeline",
    "prepare": "txdata.pipeline",
}


def __getattr__(name: str):
    """`txdata.prepare` and the other names that build data, imported on first use (PEP 562)."""
    if name in _BUILDING:
        return getattr(importlib.import_module(_BUILDING[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
