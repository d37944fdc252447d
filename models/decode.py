"""Using a trained model: greedy decoding (seq2seq) and top-k fills (mlm)."""

from __future__ import annotations

import torch

from models.transformer import MaskedLMTransformer, Seq2SeqTransformer


@torch.no_grad()
def greedy_decode(
    model: Seq2SeqTransformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_length: int,
) -> list[list[int]]:
    """Free-running decoding: start from [BOS], feed back the argmax, stop at [EOS].

    Unlike teacher forcing, the decoder sees only its own predictions, so a model that learned
    to copy leaked labels cannot score here. Returns each row's tokens, [EOS] included if made.
    """
    memory = model.encode(input_ids, attention_mask)  # (B, S, D)
    generated = torch.full((input_ids.shape[0], 1), bos_id, device=input_ids.device)  # (B, 1)
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    for _ in range(max_length):
        logits = model.decode(generated, memory, attention_mask)[:, -1]  # (B, V)
        next_ids = logits.argmax(dim=-1)  # (B,)
        generated = torch.cat([generated, next_ids[:, None]], dim=1)
        finished |= next_ids == eos_id
        if finished.all():
            break
    return [_through_eos(row, eos_id) for row in generated[:, 1:].tolist()]


@torch.no_grad()
def top_k_fills(
    model: MaskedLMTransformer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    positions: torch.Tensor,
    k: int = 5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k likeliest tokens and their probabilities at `positions` (N, 2) of (row, column)."""
    logits = model.head(model.encode(input_ids, attention_mask))  # (B, T, V)
    chosen = logits[positions[:, 0], positions[:, 1]]  # (N, V)
    probabilities, ids = chosen.softmax(dim=-1).topk(min(k, chosen.shape[-1]), dim=-1)
    return ids, probabilities


def _through_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids
