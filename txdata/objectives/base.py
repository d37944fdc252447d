"""What an objective is: one module that declares everything about itself.

An objective turns token ids into training examples in two steps:
1. `examples(source)`: the fixed part, built once with `Dataset.map(batched=True)` and cached;
2. `collate(rows, generator)`: the per-batch part (padding, dynamic masking), vectorized.

Everything else in txdata asks the objective instead of switching on its name: which
architecture it trains (`encoder`, `encoder-decoder` or `decoder`), its options, its default
batch size, the held-out metric that says it learned, how a user's input is framed for
`predict`, and which columns `txdata show` prints for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tokenizers import Tokenizer

from txdata.collate import next_token_labels
from txdata.errors import ConfigError
from txdata.lazy_import import lazy_import
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
torch = lazy_import("torch", globals())

Columns = Mapping[str, Sequence[Sequence[int]]]
"""A slice of an examples dataset, column by column: `{"input_ids": [[2, 7, 3], ...], ...}`."""

ARCHITECTURES = ("encoder", "encoder-decoder", "decoder")


@dataclasses.dataclass
class NoOptions:
    """For an objective that has no options of its own."""


class Objective:
    """The base of every objective. A subclass sets the class attributes and the methods."""

    name: ClassVar[str]  # what --mode calls it
    summary: ClassVar[str]  # one line for --help and show
    architecture: ClassVar[str]  # one of ARCHITECTURES
    Options: ClassVar[type] = NoOptions  # its own options, a dataclass saved in config.json
    batch_size: ClassVar[int] = 64  # default rows per training step
    reserved: ClassVar[int] = 2  # special tokens per row: an alternating window is the rest
    metric: ClassVar[str] = "accuracy"  # the held-out metric that says it learned the task
    metric_label: ClassVar[str] = "accuracy {} on labelled tokens"  # {}: the figure
    baseline: ClassVar[bool] = False  # report the commonest-token baseline beside the metric
    columns: ClassVar[tuple[str, ...]] = ("input", "label")  # what show prints per position
    # Rows are pairs `[CLS] A [SEP] B [SEP]` with a `next_sentence_label`: the model gets
    # segment embeddings and a sentence head on [CLS] (BERT's pretraining, nsp).
    sentence_pairs: ClassVar[bool] = False
    # What each column of `examples()` holds: an export's README says it, and a collator's
    # features carry these keys.
    example_columns: ClassVar[dict[str, str]] = {"input_ids": "token ids of one row, unpadded"}

    def __init__(
        self,
        tokenizer: Tokenizer,
        length: int,
        options: Any = None,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.special = SpecialIds.of(tokenizer)
        self.length = length  # longest row, special tokens included
        self.options = self.Options() if options is None else options
        if not isinstance(self.options, self.Options):
            raise ConfigError(f"{self.name} takes {self.Options.__name__}, not {options!r}")
        self.pad_to_multiple_of = pad_to_multiple_of
        self.setup()

    def setup(self) -> None:
        """Work done once, after the common fields are set (lookup tables, sentinel ids)."""

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        """Training examples (lists of token ids, unpadded) from a `txdata.sources.Source`,
        built by `num_proc` processes (`Dataset.map`), which give the same rows as one."""
        raise NotImplementedError

    def collate(self, rows: Columns, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A padded int64 batch with Hugging Face keys, drawn from `generator`."""
        raise NotImplementedError

    @classmethod
    def extra_special_tokens(cls, length: int, options: Any) -> list[str]:
        """Special tokens of its own that the tokenizer must hold (T5's sentinels), for rows
        of `length` under `options`; added to the tokenizer after `[PAD]` … `[EOS]`."""
        return []

    @classmethod
    def targets(cls, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T): the token each position of the stream that predicts (the decoder's, or an
        encoder's own) is scored on, -100 where nothing is. The labels as they stand, except
        for a decoder alone: its labels are its inputs, and position t is scored on t + 1."""
        labels = batch["labels"]
        return next_token_labels(labels) if cls.architecture == "decoder" else labels

    @classmethod
    def loss_positions(cls, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, T) bool: the positions whose prediction carries a loss."""
        return cls.targets(batch) != IGNORE_INDEX

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """A user's input for `predict` and `attention`, as a batch of one."""
        raise NotImplementedError

    def reconstruct(self, input_ids: list[int], output_ids: list[int]) -> list[int] | None:
        """The whole text that an input and the model's generated output restore together
        (t5 puts its spans back in place of the sentinels), for `predict`; None where the
        output is the whole answer already."""
        return None
