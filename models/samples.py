"""A few held-out examples with the model's answer, as `txdata train` shows them.

encoder            the top 3 fills of each chosen position, in its context
encoder-decoder    the input, the target, and the free-running decode
decoder            the prompt (a row's first half), the rest of the row, the continuation
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer

from models.decode import top_k_fills
from models.evaluate import free_running
from models.transformer import Transformer
from txdata.special_tokens import IGNORE_INDEX, SpecialIds


@torch.no_grad()
def sample_predictions(
    model: Transformer, batch: dict[str, torch.Tensor], tokenizer: Tokenizer, count: int = 5
) -> list[dict]:
    """`count` rows of a held-out batch, answered by the model."""
    model.eval()
    device = next(model.parameters()).device
    batch = {key: value[:count].to(device) for key, value in batch.items()}
    special = SpecialIds.of(tokenizer)
    if model.architecture == "encoder":
        return _fills(model, batch, tokenizer)
    reads, outputs, expected = free_running(model, batch, special)
    return [
        {
            "input": _readable(tokenizer, read, special),
            "target": tokenizer.decode(target),
            "prediction": tokenizer.decode(output),
            "correct": output == target,
        }
        for read, output, target in zip(reads, outputs, expected)
    ]


def _readable(tokenizer: Tokenizer, ids: list[int], special: SpecialIds) -> str:
    """The text a model read, its [MASK]s and sentinels kept: they say where it must write.

    >>> from txdata.tokenizer import alternating_tokenizer
    >>> tokenizer = alternating_tokenizer("1 0")
    >>> _readable(tokenizer, [8, 4, 8, 6], SpecialIds.of(tokenizer))
    '1 [MASK] 1'
    """
    frame = {special.pad, special.cls, special.sep, special.bos, special.eos}
    return tokenizer.decode([i for i in ids if i not in frame], skip_special_tokens=False)


def _fills(model: Transformer, batch: dict[str, torch.Tensor], tokenizer: Tokenizer) -> list[dict]:
    labels = batch["labels"].cpu()
    positions = (labels != IGNORE_INDEX).nonzero()  # (N, 2)
    device = batch["input_ids"].device
    ids, chances = top_k_fills(
        model, batch["input_ids"], batch["attention_mask"], positions.to(device), k=3
    )
    token = tokenizer.id_to_token
    samples = []
    for (row, column), candidates, probabilities in zip(
        positions.tolist(), ids.tolist(), chances.tolist()
    ):
        real = batch["input_ids"][row, : int(batch["attention_mask"][row].sum())].tolist()
        shown = [token(i) for i in real]
        shown[column] = f"<{shown[column]}>"
        samples.append(
            {
                "context": " ".join(shown[max(column - 4, 1) : column + 5])
                .replace(" [SEP]", "")
                .replace(" [PAD]", ""),
                "input": tokenizer.decode(real[1:-1], skip_special_tokens=False),
                "target": token(int(labels[row, column])),
                "top": [[token(c), round(p, 3)] for c, p in zip(candidates, probabilities)],
                "correct": candidates[0] == int(labels[row, column]),
            }
        )
    return samples
