"""A few held-out examples with the model's answer, as `txdata train` shows them.

encoder            the top 3 fills of each chosen position, in its context
encoder-decoder    the input, the target, and the free-running decode
decoder            the prompt (a row's first half), the rest of the row, the continuation
sentence pairs     besides the fills, each pair unmasked, its label, and P(B follows A)
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


@torch.no_grad()
def pair_predictions(
    model: Transformer, batch: dict[str, torch.Tensor], tokenizer: Tokenizer, count: int = 5
) -> list[dict]:
    """`count` pairs of a held-out batch of sentence pairs: A and B as the text has them (the
    masked tokens put back), the label, and the probability the model gives "B follows A"."""
    model.eval()
    device = next(model.parameters()).device
    batch = {key: value[:count].to(device) for key, value in batch.items()}
    follows = model(batch).sentence_logits.softmax(dim=-1)[:, 0].tolist()  # (B,)
    labels = batch["labels"]
    original = torch.where(labels != IGNORE_INDEX, labels, batch["input_ids"])  # (B, T)
    pairs = []
    for ids, types, length, label, probability in zip(
        original.tolist(),
        batch["token_type_ids"].tolist(),
        batch["attention_mask"].sum(dim=1).tolist(),
        batch["next_sentence_label"].tolist(),
        follows,
    ):
        second = types.index(1)  # the first position of B
        pairs.append(
            {
                "first": tokenizer.decode(ids[1 : second - 1]),
                "second": tokenizer.decode(ids[second : length - 1]),
                "label": label,
                "follows": round(probability, 3),
                "correct": (probability < 0.5) == bool(label),
            }
        )
    return pairs


def _fills(model: Transformer, batch: dict[str, torch.Tensor], tokenizer: Tokenizer) -> list[dict]:
    labels = batch["labels"].cpu()
    positions = (labels != IGNORE_INDEX).nonzero()  # (N, 2)
    device = batch["input_ids"].device
    ids, chances = top_k_fills(
        model,
        batch["input_ids"],
        batch["attention_mask"],
        positions.to(device),
        k=3,
        token_type_ids=batch.get("token_type_ids"),
    )
    token = tokenizer.id_to_token
    samples = []
    for (row, column), candidates, probabilities in zip(
        positions.tolist(), ids.tolist(), chances.tolist()
    ):
        real = batch["input_ids"][row, : int(batch["attention_mask"][row].sum())].tolist()
        shown = [token(i) for i in real[:-1]]  # [CLS] … without the closing [SEP]
        shown[column] = f"<{shown[column]}>"
        samples.append(
            {
                # A pair's middle [SEP] stays: it shows where A ends.
                "context": " ".join(shown[max(column - 4, 1) : column + 5]),
                "input": tokenizer.decode(real[1:-1], skip_special_tokens=False),
                "target": token(int(labels[row, column])),
                "top": [[token(c), round(p, 3)] for c, p in zip(candidates, probabilities)],
                "correct": candidates[0] == int(labels[row, column]),
            }
        )
    return samples
