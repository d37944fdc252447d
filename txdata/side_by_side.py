"""One source example under both objectives, for `txdata show --mode both`.

The seq2seq pair (source → target) and the mlm row of the same source line up by source
position: seq2seq encoder position i holds the token that mlm holds at i + 1, after [CLS].

    seq2seq  input_ids  1 0 1 0 [EOS]         mlm  input_ids  [CLS] 1 [MASK] 1 0 [SEP]
             labels     0 1 0 1 [EOS]              labels     -100 -100 0 -100 -100 -100
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from tokenizers import Tokenizer

from txdata.collate import batch_generator
from txdata.config import DataConfig
from txdata.errors import ConfigError
from txdata.pipeline import prepare


@dataclass
class SideBySide:
    tokenizer: Tokenizer
    seq2seq: dict[str, torch.Tensor]
    mlm: dict[str, torch.Tensor]


def side_by_side(config: DataConfig, batch_size: int, seed: int, epoch: int = 0) -> SideBySide:
    """The first `batch_size` seq2seq examples, and the mlm rows of their sources.

    An mlm row holds the first `length - 2` tokens of its source, so long sources line up
    with the seq2seq encoder up to that point.
    """
    pairs = prepare(replace(config, objective="seq2seq", options=None))
    if pairs.source is None:
        raise ConfigError(
            f"{config.source.source} is an export of built examples: both objectives need the "
            "text they came from; show one objective of it with --mode seq2seq"
        )
    first = pairs.batches(batch_size, seed, epoch, shuffle=False)
    rows = pairs.examples[first.order[:batch_size].tolist()]
    mlm = replace(config, objective="mlm", options=None).build(pairs.tokenizer)
    sources = pairs.source.pairs().select(range(len(rows["input_ids"])))["source"]
    windows = [mlm.windows({"text": [text]}) for text in sources]
    mlm_rows = {key: [window[key][0] for window in windows] for key in ("input_ids", "word_ids")}
    return SideBySide(
        pairs.tokenizer,
        seq2seq=pairs.objective.collate(rows, batch_generator(seed, epoch, 0)),
        mlm=mlm.collate(mlm_rows, batch_generator(seed, epoch, 0)),
    )
