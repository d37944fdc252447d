"""Batch i of epoch e, identical in any process: the unit a DataLoader fetches.

The order of examples depends on (seed, epoch) and the masks of batch i on (seed, epoch, i), so
`DataLoader(batches, batch_size=None, num_workers=4)` yields the very batches that a loop in
one process does, and a resumed run sees the batches it would have seen.

>>> from txdata import DataConfig, prepare
>>> data = prepare(DataConfig("mlm"))
>>> batches = Batches(data.examples, data.objective.collate, batch_size=32, seed=0, epoch=1)
>>> batches[0]["input_ids"].shape
torch.Size([32, 12])
"""

from __future__ import annotations

from collections.abc import Callable

import datasets
import torch

from txdata.collate import MASKS, ORDER, batch_generator, check_seed
from txdata.errors import ConfigError
from txdata.objectives.base import Columns


class Batches(torch.utils.data.Dataset):
    def __init__(
        self,
        examples: datasets.Dataset,
        collate: Callable[[Columns, torch.Generator], dict[str, torch.Tensor]],
        batch_size: int,
        seed: int,
        epoch: int = 0,
        shuffle: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        check_seed(seed)
        check_seed(epoch, "epoch")
        self.examples, self.collate = examples, collate
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        count = examples.num_rows
        self.order = (
            torch.randperm(count, generator=batch_generator(seed, epoch, 0, ORDER))
            if shuffle
            else torch.arange(count)
        )

    def __len__(self) -> int:
        return -(-self.examples.num_rows // self.batch_size)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rows = self.examples[
            self.order[index * self.batch_size : (index + 1) * self.batch_size].tolist()
        ]
        return self.collate(rows, batch_generator(self.seed, self.epoch, index, MASKS))
