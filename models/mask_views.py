"""The attention masks a batch gets inside the model, as plain (query, key) grids to look at.

Dimension legend:
    B batch   S source (encoder) positions   T target (decoder) positions

The grids are built by the same `causal_mask`, `padding_mask` and `may_attend` calls as
`Stack.forward`, so what `txdata masks` draws is what the model uses; a test holds them equal.
True means the query (row) may attend to the key (column).

>>> import torch
>>> ids, real = torch.tensor([[8, 7, 6, 0]]), torch.tensor([[1, 1, 1, 0]])  # 1 0 [EOS] [PAD]
>>> batch = {"input_ids": ids, "attention_mask": real}
>>> attention_masks(batch, "encoder")["encoder self-attention"][0].int()
tensor([[1, 1, 1, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 0]], dtype=torch.int32)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from models.attention import causal_mask, may_attend, padding_mask

ENCODER = ("input_ids", "attention_mask")
DECODER = ("decoder_input_ids", "decoder_attention_mask")
SIDES = {  # by architecture: each mask's (query side, key side), as batch keys of ids and mask
    "encoder": {"encoder self-attention": (ENCODER, ENCODER)},
    "encoder-decoder": {
        "encoder self-attention": (ENCODER, ENCODER),
        "decoder self-attention": (DECODER, DECODER),
        "cross-attention": (DECODER, ENCODER),
    },
    # A decoder-only model reads its text as `input_ids`, under a causal mask.
    "decoder": {"decoder self-attention": (ENCODER, ENCODER)},
}


def attention_masks(batch: dict[str, torch.Tensor], architecture: str) -> dict[str, torch.Tensor]:
    """Each attention's mask for a batch, one row per query: (B, S, S) for an encoder, (B, T, T)
    for a decoder, and (B, T, S) for cross-attention."""
    views = {}
    for name, (queries, keys) in SIDES[architecture].items():
        key_pad = padding_mask(_padding(batch, keys))  # (B, 1, 1, L)
        length = batch[queries[0]].shape[1]
        causal = None
        if name == "decoder self-attention":
            causal = causal_mask(length, batch[queries[0]].device)  # (T, T)
        views[name] = _grid(may_attend(key_pad, causal), length)
    return views


def _padding(batch: dict[str, torch.Tensor], side: tuple[str, str]) -> torch.Tensor:
    """(B, L) 1 = real position; all real when the batch has no mask for that side, as in
    `Transformer.decode`."""
    ids, mask = side
    return batch[mask] if mask in batch else torch.ones_like(batch[ids])


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
    batch: dict[str, torch.Tensor], tokenizer: Tokenizer, example: int, architecture: str
) -> list[MaskGrid]:
    """The grids of row `example` of a batch, in the order the model applies them."""
    grids = []
    for name, allowed in attention_masks(batch, architecture).items():
        query_side, key_side = SIDES[architecture][name]
        query_ids, query_real = batch[query_side[0]][example], _padding(batch, query_side)[example]
        key_ids, key_real = batch[key_side[0]][example], _padding(batch, key_side)[example]
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
