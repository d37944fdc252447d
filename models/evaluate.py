"""Held-out metrics: loss, perplexity, accuracy where a label is set, and for the models that
generate, the exact match of free-running outputs, which leakage cannot inflate.

    encoder-decoder   decode from [BOS] until [EOS]; exact when it equals the labels
    decoder           continue the first half of each row; exact when it equals the rest
    sentence pairs    next_sentence_loss and next_sentence_accuracy of the [CLS] head, beside
                      the token metrics (whose `loss` is then the masked tokens' alone)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.decode import greedy_continue, greedy_decode
from models.transformer import Transformer
from txdata.special_tokens import IGNORE_INDEX, SpecialIds


@torch.no_grad()
def evaluate(
    model: Transformer, batches, device: torch.device, special: SpecialIds
) -> dict[str, float]:
    """Metrics over all `batches`; `exact_match` too when the model generates."""
    was_training = model.training
    model.eval()
    loss_sum, confidence, correct, labelled, exact, rows = 0.0, 0.0, 0, 0, 0, 0
    pair_loss_sum, pair_correct, pairs = 0.0, 0, 0
    for batch in batches:
        batch = {key: value.to(device) for key, value in batch.items()}
        output = model(batch)
        targets = model.targets(batch["labels"])  # (B, T): what each position is scored on
        has_label = targets != IGNORE_INDEX
        count = int(has_label.sum())
        loss_sum += float(output.losses["token"] if output.losses else output.loss) * count
        if output.sentence_logits is not None and "next_sentence_label" in batch:
            pair_labels = batch["next_sentence_label"]  # (B,)
            pair_loss_sum += float(
                F.cross_entropy(output.sentence_logits, pair_labels, reduction="sum")
            )
            pair_correct += int((output.sentence_logits.argmax(dim=-1) == pair_labels).sum())
            pairs += len(pair_labels)
        probabilities = output.logits[has_label].softmax(dim=-1)  # (N, V)
        confidence += float(probabilities.max(dim=-1).values.sum())
        correct += int((probabilities.argmax(dim=-1) == targets[has_label]).sum())
        labelled += count
        if model.architecture != "encoder":
            _, outputs, expected = free_running(model, batch, special)
            exact += sum(output == target for output, target in zip(outputs, expected))
            rows += len(expected)
    model.train(was_training)
    loss = loss_sum / max(labelled, 1)
    metrics = {
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "accuracy": correct / max(labelled, 1),
        # Mean top probability: above the accuracy, the model is overconfident (calibration).
        "confidence": confidence / max(labelled, 1),
    }
    if rows:
        metrics["exact_match"] = exact / rows
    if pairs:
        metrics["next_sentence_loss"] = pair_loss_sum / pairs
        metrics["next_sentence_accuracy"] = pair_correct / pairs
    return metrics


def next_sentence_ceiling(batches) -> float:
    """The best next-sentence accuracy any model can reach on these pairs: rows whose pair has
    the very same tokens (before masking) and the same boundary cannot get different answers,
    so each such group scores at most its commoner label. On a text corpus pairs are nearly
    all distinct and this is about 1; on the alternating sequence a random B often repeats a
    positive's, and it is about 0.75.

    >>> batch = {
    ...     "input_ids": torch.tensor([[2, 8, 3, 7, 3], [2, 8, 3, 7, 3], [2, 8, 3, 8, 3]]),
    ...     "attention_mask": torch.ones(3, 5, dtype=torch.long),
    ...     "labels": torch.full((3, 5), -100),
    ...     "token_type_ids": torch.tensor([[0, 0, 0, 1, 1]] * 3),
    ...     "next_sentence_label": torch.tensor([0, 1, 1]),
    ... }
    >>> next_sentence_ceiling([batch])  # rows 0 and 1 are one pair with both labels
    0.6666666666666666
    """
    labels_of: dict[tuple, list[int]] = {}
    for batch in batches:
        labels = batch["labels"]
        original = torch.where(labels != IGNORE_INDEX, labels, batch["input_ids"])  # (B, T)
        for ids, types, length, label in zip(
            original.tolist(),
            batch["token_type_ids"].tolist(),
            batch["attention_mask"].sum(dim=1).tolist(),
            batch["next_sentence_label"].tolist(),
        ):
            labels_of.setdefault((*ids[:length], *types[:length]), [0, 0])[label] += 1
    rows = sum(sum(counts) for counts in labels_of.values())
    return sum(max(counts) for counts in labels_of.values()) / max(rows, 1)


def free_running(
    model: Transformer, batch: dict[str, torch.Tensor], special: SpecialIds
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """For each row: what the model read, what it generated on its own, and what it should
    have generated."""
    labels = batch["labels"]
    if model.architecture == "encoder-decoder":
        reads = [
            row[: int(length)]
            for row, length in zip(batch["input_ids"].tolist(), batch["attention_mask"].sum(1))
        ]
        outputs = greedy_decode(
            model,
            batch["input_ids"],
            batch["attention_mask"],
            special.bos,
            special.eos,
            labels.shape[1],
        )
        expected = [[t for t in row if t != IGNORE_INDEX] for row in labels.tolist()]
        return reads, outputs, expected
    prompt_ids, prompt_mask, rests = split_prompts(batch["input_ids"], batch["attention_mask"])
    longest = max(map(len, rests))
    outputs = greedy_continue(model, prompt_ids, prompt_mask, special.eos, longest)
    prompts = [row[: int(n)] for row, n in zip(prompt_ids.tolist(), prompt_mask.sum(1))]
    return prompts, [output[: len(rest)] for output, rest in zip(outputs, rests)], rests


def split_prompts(
    input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    """Each row's first half (at least one token) as a prompt, padded on the right, and the
    rest of its real tokens as the continuation to expect.

    >>> split_prompts(torch.tensor([[8, 7, 8, 6], [8, 7, 0, 0]]), torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]))
    (tensor([[8, 7],
            [8, 0]]), tensor([[1, 1],
            [1, 0]]), [[8, 6], [7]])
    """  # noqa: E501
    lengths = attention_mask.sum(dim=1)  # (B,)
    halves = (lengths // 2).clamp(min=1)  # (B,)
    width = int(halves.max())
    columns = torch.arange(width, device=input_ids.device)
    prompt_mask = (columns < halves[:, None]).long()  # (B, P)
    prompt_ids = input_ids[:, :width] * prompt_mask
    rests = [
        row[int(half) : int(length)]
        for row, half, length in zip(input_ids.tolist(), halves, lengths)
    ]
    return prompt_ids, prompt_mask, rests
