"""What a run holds out for evaluation, and the simplest baseline to compare a score with.

Holding out is a data decision: on a periodic sequence nothing unseen exists, so the held-out
windows are those further along it than any training window; on a corpus, a random tenth
(at most `limit` examples) is never trained on.
"""

from __future__ import annotations

from dataclasses import replace

import datasets
import numpy as np

from txdata.batches import Batches
from txdata.errors import ConfigError
from txdata.pipeline import PreparedData, prepare
from txdata.special_tokens import IGNORE_INDEX, SpecialIds


def heldout_split(
    data: PreparedData, limit: int, length: int | None = None
) -> tuple[datasets.Dataset, datasets.Dataset, str]:
    """Training examples, held-out examples, and a sentence saying what was held out.

    `length` (alternating only) evaluates on windows of another length than training saw.
    """
    source = data.config.source
    if source.source == "alternating":
        # A periodic sequence leaves nothing unseen to hold out: evaluate on windows further
        # along the sequence than any training window, and say that their contents recur.
        later = replace(source, offset=source.offset + source.count, count=min(limit, 64))
        length = length or data.config.length
        held = prepare(replace(data.config, source=later, length=length), data.tokenizer)
        first, last = later.offset, later.offset + later.count - 1
        if length != data.config.length:
            note = (
                f"windows of {length} tokens at offsets {first}-{last}; "
                f"training saw {data.config.length}-token windows"
            )
            return data.examples, held.examples, note
        note = (
            f"windows at offsets {first}-{last}, after every training window "
            "(the sequence is periodic, so their contents also occur in training)"
        )
        return data.examples, held.examples, note
    if length is not None:
        raise ConfigError("--eval-length works with the alternating source only")
    size = min(limit, max(1, data.examples.num_rows // 10))
    if data.examples.num_rows < 2:
        raise ConfigError("need at least 2 examples to hold one out for evaluation")
    split = data.examples.train_test_split(test_size=size, seed=0)
    return split["train"], split["test"], f"{size} random examples never trained on"


def unigram_accuracy(
    examples: datasets.Dataset, eval_batches: Batches, special: SpecialIds
) -> float:
    """Masked-token accuracy of always guessing the most frequent training token."""
    ids = np.concatenate([np.asarray(row) for row in examples["input_ids"]])
    ids = ids[~np.isin(ids, special.all())]
    guess = int(np.bincount(ids).argmax())
    hits = total = 0
    for batch in eval_batches:
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]
        hits += int((labels == guess).sum())
        total += labels.numel()
    return hits / max(total, 1)
