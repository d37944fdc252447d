"""The attention masks a batch gets inside the model, as plain (query, key) grids to look at.

Dimension legend:
    B batch   S source (encoder) positions   T target (decoder) positions

The grids are built by the same `causal_mask`, `padding_mask` and `combine` calls as
`Stack.forward`, so what `txdata masks` draws is what the model uses; a test holds them equal.
True means the query (row) may attend to the key (column).

>>> ids, real = torch.tensor([[8, 7, 6, 0]]), torch.tensor([[1, 1, 1, 0]])  # 1 0 [EOS] [PAD]
>>> attention_masks({"input_ids": ids, "attention_mask": real})["encoder self-attention"][0].int()
tensor([[1, 1, 1, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 0]], dtype=torch.int32)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from models.attention import causal_mask, combine, padding_mask

ENCODER = ("input_ids", "attention_mask")
DECODER = ("decoder_input_ids", "decoder_attention_mask")
SIDES = {
    "encoder self-attention": (ENCODER, ENCODER),
    "decoder self-attention": (DECODER, DECODER),
    "cross-attention": (DECODER, ENCODER),
}
"""Each mask's (query side, key side), as the batch keys of their ids and their padding."""


def attention_masks(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each attention's mask for a batch: (B, S, S) for the encoder, and for a seq2seq batch
    (B, T, T) for the decoder and (B, T, S) for cross-attention. An mlm batch has no decoder."""
    encoder_pad = padding_mask(batch["attention_mask"])  # (B, 1, 1, S)
    source = batch["input_ids"].shape[1]
    # The encoder's mask is (B, 1, 1, S) in the model, broadcast over its S queries.
    views = {"encoder self-attention": _grid(combine(encoder_pad), source)}
    if "decoder_input_ids" not in batch:
        return views
    target = batch["decoder_input_ids"].shape[1]
    decoder_pad = padding_mask(decoder_padding(batch))  # (B, 1, 1, T)
    causal = causal_mask(target, batch["decoder_input_ids"].device)  # (T, T)
    views["decoder self-attention"] = _grid(combine(decoder_pad, causal), target)
    views["cross-attention"] = _grid(combine(encoder_pad), target)
    return views


def decoder_padding(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, T) 1 = real decoder position; all real when the batch has no decoder mask, as in
    `Transformer.decode`."""
    if "decoder_attention_mask" in batch:
        return batch["decoder_attention_mask"]
    return torch.ones_like(batch["decoder_input_ids"])


@dataclass
class MaskGrid:
    """One example's view of one mask: who may attend to whom, with token strings."""

    name: str  # a key of `attention_masks`, e.g. "cross-attention"
    allowed: torch.Tensor  # (T, L) bool
    queries: list[str]  # T token strings, down the side
    keys: list[str]  # L token strings, across the top
    query_real: list[bool]  # False on [PAD] queries, whose output the model never uses
    key_real: list[bool]  # False on [PAD] keys, which real queries never see


def example_grids(
    batch: dict[str, torch.Tensor], tokenizer: Tokenizer, example: int
) -> list[MaskGrid]:
    """The grids of row `example` of a batch, in the order the model applies them."""
    sides = {ENCODER: (batch["input_ids"][example], batch["attention_mask"][example])}
    if "decoder_input_ids" in batch:
        sides[DECODER] = (batch["decoder_input_ids"][example], decoder_padding(batch)[example])
    grids = []
    for name, allowed in attention_masks(batch).items():
        (query_ids, query_real), (key_ids, key_real) = (sides[side] for side in SIDES[name])
        grids.append(
            MaskGrid(
                name,
                allowed[example],
                [tokenizer.id_to_token(i) for i in query_ids.tolist()],
                [tokenizer.id_to_token(i) for i in key_ids.tolist()],
                query_real.bool().tolist(),
                key_real.bool().tolist(),
            )
        )
    return grids


def _grid(allowed: torch.Tensor, queries: int) -> torch.Tensor:
    """(B, 1, T or 1, L) as the model holds it -> (B, T, L), one row per query."""
    return allowed.expand(-1, -1, queries, -1)[:, 0]
