"""Using a trained model: greedy decoding (seq2seq), greedy continuation (decoder-only) and
top-k fills (mlm).

Generation keeps a key/value cache by default: each decoder block keeps the self-attention
keys and values of the positions already read, and cross-attention projects the encoder
memory once, so a step feeds the decoder its one new token instead of the whole prefix.
`use_cache=False` reruns the prefix at every step; a test holds the two equal.

Prompts of different lengths are left-aligned before a decoder-only model continues them:
the batch arrives padded on the right, as every batch here is, and each row's real tokens
move to its end, so that every row's next token lands in the same, last column. Position ids
count from each row's first real token, as in training, and pad keys stay masked, so a row
continues exactly as it would alone. Rotary positions (`models.rope`) are turned by the same
position ids: each new query at its own, each key once, when it is cached.

A model trained with `causal_mask=False` decodes causally all the same here, as every model
does with the cache: that is why its free-running outputs fail where its teacher-forced
scores looked perfect. (Without the cache it re-reads the prefix with no causal mask, so the
two differ for such a model, and for no other.)
"""

from __future__ import annotations

import torch

from models.attention import KVCache
from models.transformer import Transformer


@torch.no_grad()
def greedy_decode(
    model: Transformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_length: int,
    use_cache: bool = True,
) -> list[list[int]]:
    """Free-running seq2seq decoding: start from [BOS], feed back the argmax, stop at [EOS].

    Unlike teacher forcing, the decoder sees only its own predictions, so a model that learned
    to copy leaked labels cannot score here. Returns each row's tokens, [EOS] included if made.
    """
    memory, memory_mask = model.memory(input_ids, attention_mask)  # (B, S or 1, D), (B, S or 1)
    start = torch.full((input_ids.shape[0], 1), bos_id, device=input_ids.device)  # (B, 1)
    return _greedy(
        model, start, torch.ones_like(start), eos_id, max_length, use_cache, memory, memory_mask
    )


@torch.no_grad()
def greedy_continue(
    model: Transformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    eos_id: int,
    max_new_tokens: int,
    use_cache: bool = True,
) -> list[list[int]]:
    """A decoder-only model's greedy continuation of each prompt (B, P), padded on the right:
    up to `max_new_tokens` new tokens per row, through [EOS] if it comes.

    Each row is left-aligned first (see the module's docstring): ids [[8, 7, 0]] with mask
    [[1, 1, 0]] are read as [[0, 8, 7]] at positions [[0, 0, 1]], the pad masked.

    Example (with a model trained on `1 0 1 0`)::

        prompt, real = torch.tensor([[8, 7, 0]]), torch.tensor([[1, 1, 0]])  # 1 0 [PAD]
        greedy_continue(model_trained_on_1_0_1_0, prompt, real, eos_id=6, max_new_tokens=4)
        # [[8, 7, 8, 7]]
    """
    # A stable sort of the mask puts each row's pads first and keeps its tokens in order.
    order = attention_mask.argsort(dim=1, stable=True)  # (B, P)
    ids, mask = input_ids.gather(1, order), attention_mask.gather(1, order)
    return _greedy(model, ids, mask, eos_id, max_new_tokens, use_cache)


def _greedy(
    model: Transformer,
    ids: torch.Tensor,
    mask: torch.Tensor,
    eos_id: int,
    steps: int,
    use_cache: bool,
    memory: torch.Tensor | None = None,
    memory_mask: torch.Tensor | None = None,
) -> list[list[int]]:
    """The loop both share. ids and mask (B, P): what the decoder reads first, padded left."""
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # (B, P): 0 at each row's first token
    cache: list[tuple[KVCache, KVCache]] | None = model.new_cache() if use_cache else None
    fed, fed_positions = ids, positions  # the first step reads the whole prompt
    made, finished = [], torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(steps):
        hidden = model.decode(fed, mask, memory, memory_mask, fed_positions, cache)  # (B, T, D)
        next_ids = model.head(hidden[:, -1]).argmax(dim=-1)  # (B,)
        made.append(next_ids)
        finished |= next_ids == eos_id
        if finished.all():
            break
        new_positions = positions[:, -1:] + 1  # (B, 1)
        ids = torch.cat([ids, next_ids[:, None]], dim=1)  # (B, L + 1)
        positions = torch.cat([positions, new_positions], dim=1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        # Cached, the next step reads the new token alone; uncached, the whole prefix again.
        fed, fed_positions = (next_ids[:, None], new_positions) if use_cache else (ids, positions)
    return [_through_eos(row, eos_id) for row in torch.stack(made, dim=1).tolist()]


@torch.no_grad()
def top_k_fills(
    model: Transformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    positions: torch.Tensor,
    k: int = 5,
    token_type_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k likeliest tokens and their probabilities at `positions` (N, 2) of (row, column).
    `token_type_ids` (B, T): the segments of sentence pairs, for a model that reads them."""
    logits = model.head(model.encode(input_ids, attention_mask, token_type_ids))  # (B, T, V)
    chosen = logits[positions[:, 0], positions[:, 1]]  # (N, V)
    probabilities, ids = chosen.softmax(dim=-1).topk(min(k, chosen.shape[-1]), dim=-1)
    return ids, probabilities


def _through_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids
