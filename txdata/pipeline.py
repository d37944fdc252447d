"""From a `DataConfig` to batches: source -> tokenizer -> examples -> `Batches`.

>>> data = prepare(DataConfig("seq2seq"))
>>> batch = data.batches(batch_size=2, seed=0)[0]
>>> sorted(batch)
['attention_mask', 'decoder_attention_mask', 'decoder_input_ids', 'input_ids', 'labels']
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets
from tokenizers import Tokenizer

from txdata.batches import Batches
from txdata.collators import Collator
from txdata.config import DataConfig
from txdata.errors import ConfigError, SourceError, UnknownNameError
from txdata.exported import is_export, load_export
from txdata.objectives import Objective
from txdata.sources import Source, load_source
from txdata.tokenizer import TRAINED_KINDS, alternating_tokenizer, cached_tokenizer, load_tokenizer


@dataclass
class PreparedData:
    config: DataConfig
    source: Source | None  # None for an export: its examples were built from text elsewhere
    tokenizer: Tokenizer
    objective: Objective
    examples: datasets.Dataset

    def batches(self, batch_size: int, seed: int, epoch: int = 0, shuffle: bool = True) -> Batches:
        return Batches(self.examples, self.objective.collate, batch_size, seed, epoch, shuffle)

    def collator(self, seed: int = 0, epoch: int = 0) -> Collator:
        """This objective's collation for another training loop (`txdata.collators`)."""
        return Collator(self.config, self.tokenizer, seed=seed, epoch=epoch)


def prepare(
    config: DataConfig, tokenizer: Tokenizer | None = None, num_proc: int | None = None
) -> PreparedData:
    """Load the source, build or reuse a tokenizer, and build the objective's examples with
    `num_proc` processes (the same examples as one). A source that names a folder written by
    `txdata export` gives its examples and tokenizer as they are: nothing is built."""
    check_num_proc(num_proc)
    if is_export(config.source.source):
        config, tokenizer, examples = load_export(config, tokenizer)
        return PreparedData(config, None, tokenizer, config.build(tokenizer), examples)
    source = load_source(config.source, window=config.window)
    tokenizer = tokenizer or build_tokenizer(config, source)
    extra = config.kind.extra_special_tokens(config.length, config.options)
    missing = [token for token in extra if tokenizer.token_to_id(token) is None]
    if missing:  # the objective's own special tokens, after every other token
        tokenizer.add_special_tokens(missing)
    objective = config.build(tokenizer)
    examples = objective.examples(source, num_proc)
    if examples.num_rows == 0:
        raise SourceError(f"{config.source.source} gave no {config.objective} examples")
    return PreparedData(config, source, tokenizer, objective, examples)


def check_num_proc(num_proc: int | None) -> None:
    """1 to this machine's CPUs: more processes than CPUs only wait for one, and each costs
    a copy of the interpreter (`--num-proc 100000` started hundreds)."""
    if num_proc is None:
        return
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not 1 <= num_proc <= (cpus or 1):
        raise ConfigError(f"num proc must lie between 1 and the {cpus} CPUs here, got {num_proc}")


def build_tokenizer(config: DataConfig, source: Source) -> Tokenizer:
    kind = config.tokenizer
    if kind == "auto":
        if config.source.source == "alternating":
            return alternating_tokenizer(config.source.pattern)
        kind = "wordpiece"
    if kind in TRAINED_KINDS:
        return cached_tokenizer(_texts(source), kind, config.vocab_size, source.fingerprint)
    if not kind.endswith(".json") and not Path(kind).exists():
        choices = ", ".join(("auto", *TRAINED_KINDS))
        raise UnknownNameError(f"unknown tokenizer {kind!r}: choose {choices}, or a tokenizer.json")
    return load_tokenizer(kind)


def _texts(source: Source) -> Iterator[str]:
    for batch in source.texts().iter(batch_size=1000):
        yield from batch["text"]
