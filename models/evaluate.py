"""Held-out metrics: loss, perplexity, accuracy where a label is set, and for seq2seq the exact
match of free-running decodes, which leakage cannot inflate."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.decode import greedy_decode
from txdata.special_tokens import IGNORE_INDEX


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches,
    device: torch.device,
    bos_id: int | None = None,
    eos_id: int | None = None,
) -> dict[str, float]:
    """Metrics over all `batches`; pass `bos_id` and `eos_id` to decode seq2seq freely."""
    was_training = model.training
    model.eval()
    loss_sum, confidence, correct, labelled, exact, rows = 0.0, 0.0, 0, 0, 0, 0
    for batch in batches:
        batch = {key: value.to(device) for key, value in batch.items()}
        output = model(batch)
        labels = batch["labels"]
        has_label = labels != IGNORE_INDEX
        count = int(has_label.sum())
        loss_sum += float(output.loss) * count
        probabilities = output.logits[has_label].softmax(dim=-1)  # (N, V)
        confidence += float(probabilities.max(dim=-1).values.sum())
        correct += int((probabilities.argmax(dim=-1) == labels[has_label]).sum())
        labelled += count
        if bos_id is not None:
            decoded = greedy_decode(
                model, batch["input_ids"], batch["attention_mask"], bos_id, eos_id, labels.shape[1]
            )
            targets = [[t for t in row if t != IGNORE_INDEX] for row in labels.tolist()]
            exact += sum(d == t for d, t in zip(decoded, targets))
            rows += len(targets)
    model.train(was_training)
    loss = loss_sum / max(labelled, 1)
    metrics = {
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "accuracy": correct / max(labelled, 1),
        # Mean top probability: above the accuracy, the model is overconfident (calibration).
        "confidence": confidence / max(labelled, 1),
    }
    if bos_id is not None:
        metrics["exact_match"] = exact / max(rows, 1)
    return metrics
