"""txdata's batches for any training loop: a `collate_fn` for a `DataLoader`, or a
`data_collator` for Hugging Face's `Trainer`.

`Collator(config, tokenizer)` takes a list of features, Hugging Face style (one dict per row:
`{"input_ids": [...]}`, plus `labels` for seq2seq, or the other columns of the objective's
examples), and returns the very batch that the objective's `collate` builds from those rows.
Its masks come from `batch_generator(seed, epoch, k)`, k counting the calls since the collator
was made or `set_epoch` was last called, so batch k of epoch e is the same in every run; or
from a `torch.Generator` that the caller passes, drawn on from call to call.

>>> from txdata import DataConfig, prepare
>>> data = prepare(DataConfig("mlm"))
>>> collator = Collator("mlm", data.tokenizer, seed=0)
>>> batch = collator([data.examples[0], data.examples[1]])
>>> sorted(batch), tuple(batch["input_ids"].shape)
(['attention_mask', 'input_ids', 'labels', 'token_type_ids'], (2, 12))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from tokenizers import Tokenizer

from txdata.collate import MASKS, batch_generator, check_seed
from txdata.config import DataConfig
from txdata.errors import ConfigError


class Collator:
    """One objective's collation, seeded per (seed, epoch, call) or by a caller's generator.

    `config` is a `DataConfig` (its objective, length, options and pad_to_multiple_of decide
    the batch) or just an objective's name; `tokenizer` is the one the ids belong to, a
    `tokenizers.Tokenizer` or a transformers fast tokenizer wrapping one.

    In a `DataLoader` with workers, worker w of n makes batches w, w + n, … as the loader
    hands them out in order (`in_order`, its default), so each batch is the one a single
    process makes. Workers copy the collator when an epoch starts: call `set_epoch(e)` before
    each epoch and leave `persistent_workers` off. A caller's `generator` is drawn call after
    call; workers would each copy it and draw the same masks, so use it without them.
    Several training processes (a Trainer under torchrun) need one seed each, or each masks
    the same positions in its rows. (`Batches`, a dataset of whole batches, needs none of
    this.)
    """

    def __init__(
        self,
        config: DataConfig | str,
        tokenizer: Tokenizer,
        seed: int = 0,
        epoch: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        config = DataConfig(config) if isinstance(config, str) else config
        check_seed(seed)
        # A transformers fast tokenizer (PreTrainedTokenizerFast) holds the `tokenizers` one.
        self.objective = config.build(getattr(tokenizer, "backend_tokenizer", tokenizer))
        self.seed, self.generator = seed, generator
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch `epoch`: fresh masks, counted again from batch 0."""
        check_seed(epoch, "epoch")
        self.epoch, self.calls = epoch, 0

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """The batch of these rows: int64 tensors under Hugging Face's keys."""
        rows = columns(features)
        generator = self.generator or batch_generator(self.seed, self.epoch, self.index, MASKS)
        self.calls += 1
        try:
            return self.objective.collate(rows, generator)
        except KeyError as error:
            missing = error.args[0] if error.args else None
            if not isinstance(missing, str) or missing in rows:
                raise  # not a missing column: a fault of txdata's own, shown whole
            raise ConfigError(
                f"{self.objective.name} collation reads a {missing!r} column that the features "
                f"lack (they hold {', '.join(rows)}); give rows of the objective's examples"
            ) from None

    @property
    def index(self) -> int:
        """k, the index of the batch the next call makes within its epoch."""
        worker = torch.utils.data.get_worker_info()
        if worker is None:
            return self.calls
        return self.calls * worker.num_workers + worker.id


def columns(features: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Rows of features as columns, `[{"input_ids": [2, 8, 3]}, …]` -> `{"input_ids":
    [[2, 8, 3], …]}`; tensors and arrays become lists, as `datasets` gives rows."""
    if not features:
        raise ConfigError("a collator needs at least one feature to make a batch")
    names = list(features[0])
    table: dict[str, list] = {name: [] for name in names}
    for number, feature in enumerate(features):
        if feature.keys() != table.keys():
            raise ConfigError(
                f"feature {number} holds {', '.join(feature)}, feature 0 {', '.join(names)}: "
                "every feature of a batch needs the same keys"
            )
        for name in names:
            value = feature[name]
            table[name].append(value.tolist() if hasattr(value, "tolist") else value)
    return table
