"""What an objective is: token ids in, training examples out, then batches of them.

An objective works in two steps:
1. `examples(source)`: the fixed part, built once with `Dataset.map(batched=True)` and cached.
2. `collate(rows, generator)`: the per-batch part (padding, dynamic masking), vectorized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import datasets
import torch

Rows = Mapping[str, Sequence[Sequence[int]]]
"""A slice of an examples dataset, column by column: `{"input_ids": [[2, 7, 3], ...], ...}`."""


class Objective(Protocol):
    name: str

    def examples(self, source) -> datasets.Dataset:
        """Training examples (lists of token ids, unpadded) from a `txdata.sources.Source`."""
        ...

    def collate(self, rows: Rows, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A padded int64 batch with Hugging Face keys."""
        ...
