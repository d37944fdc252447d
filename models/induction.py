"""The induction task of Olsson et al., "In-context Learning and Induction Heads" (2022): a
random prefix of symbols, then the same prefix again. In the second copy each next symbol
is what followed the current one last time, so a model that finds the previous occurrence
of the current symbol and reads what came after it (an induction head) predicts it; nothing
else does better than chance, 1/V for V symbols.

    prefix  c a d      (n = 3 symbols drawn at random, with repeats)
    row     c a d c a d
    scored  first copy:  a, d after c, a          (chance 1/V: nothing predicts them)
            second copy: a, d after c, a          (predictable by induction)
            the second copy's first c is not scored: nothing says where the copy begins

The prefix length n varies from row to row. With one fixed n, "read the symbol n − 1
places back" would solve the second copy with position alone, which one layer can do. Even
so, position narrows n (a row that goes on past t has 2n ≥ t + 2), and `positional_guesses`
measures how far that alone gets.

>>> rows = repeated_sequences(2, symbols(4), shortest=2, longest=3, seed=3)
>>> rows
[['c', 'a', 'c', 'a'], ['c', 'a', 'a', 'c', 'a', 'a']]
>>> perfect = [row[1:] for row in rows]  # the token after each position
>>> copy_accuracy(rows, perfect)
(1.0, 1.0)
"""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from pathlib import Path

import torch

from models.transformer import Transformer
from txdata.collate import pad_right
from txdata.errors import ConfigError
from txdata.files import atomic_write_text
from txdata.tokenizer import alternating_tokenizer, save_tokenizer


def symbols(count: int) -> list[str]:
    """`count` one-letter symbols: a, b, c, …

    >>> symbols(3)
    ['a', 'b', 'c']
    """
    if not 2 <= count <= len(string.ascii_lowercase):
        raise ConfigError(f"symbols must number 2 to 26, got {count}")
    return list(string.ascii_lowercase[:count])


def repeated_sequences(
    count: int, vocabulary: list[str], shortest: int, longest: int, seed: int
) -> list[list[str]]:
    """`count` rows, each a prefix of n symbols (n uniform in shortest … longest, symbols
    uniform with repeats) followed by the same prefix: 2n symbols."""
    if not 2 <= shortest <= longest:
        raise ConfigError(f"need 2 <= shortest <= longest prefix, got {shortest} and {longest}")
    generator = random.Random(seed)
    rows = []
    for _ in range(count):
        prefix = generator.choices(vocabulary, k=generator.randint(shortest, longest))
        rows.append(prefix + prefix)
    return rows


def write_task(rows: list[list[str]], vocabulary: list[str], folder: Path) -> tuple[Path, Path]:
    """The rows as a JSON Lines corpus (one `text` per row, symbols separated by spaces) and
    a WordLevel tokenizer over the symbols, in `folder`: `(corpus, tokenizer)` paths."""
    corpus, tokenizer = folder / "induction.jsonl", folder / "tokenizer.json"
    atomic_write_text(corpus, "".join(json.dumps({"text": " ".join(row)}) + "\n" for row in rows))
    save_tokenizer(alternating_tokenizer(" ".join(vocabulary)), tokenizer)
    return corpus, tokenizer


@torch.no_grad()
def next_token_predictions(model: Transformer, rows: list[list[int]]) -> list[list[int]]:
    """A decoder-only model's argmax after each position of each row of token ids,
    teacher-forced: entry t of a row's answer is its guess for the token at t + 1."""
    model.eval()
    device = next(model.parameters()).device
    input_ids, attention_mask = pad_right(rows, value=0)  # (B, T)
    batch = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}
    guesses = model(batch).logits.argmax(dim=-1).tolist()  # (B, T)
    return [guess[: len(row)] for guess, row in zip(guesses, rows)]


def positional_guesses(rows: list[list], shortest: int, longest: int) -> list[list]:
    """What position alone predicts, without induction: after position t, each prefix length
    m that the row allows (shortest <= m <= longest, t >= m, and 2m >= t + 2 since the row
    goes on to t + 1) points at the symbol m − 1 back; the guess is the symbol most of them
    point at (ties: the shortest m). Only symbols at or before t are read. Before any m is
    possible, the guess is the current symbol.

    >>> positional_guesses([list("abcabc")], 3, 3)  # one length: always right in copy 2
    [['a', 'b', 'c', 'b', 'c']]
    """
    guesses = []
    for row in rows:
        guess = []
        for t in range(len(row) - 1):
            lengths = [m for m in range(shortest, longest + 1) if m <= t and 2 * m >= t + 2]
            votes = Counter(row[t + 1 - m] for m in lengths)
            guess.append(votes.most_common(1)[0][0] if votes else row[t])
        guesses.append(guess)
    return guesses


def copy_accuracy(rows: list[list], predictions: list[list]) -> tuple[float, float]:
    """Next-token accuracy on the first copy and on the second, of rows of 2n tokens.

    `predictions[b][t]` is the guess for `rows[b][t + 1]`. Scored: targets 1 … n − 1 (the
    first copy after its first token) and n + 1 … 2n − 1 (the second copy after its first
    token); nothing can predict a row's first token or where its second copy begins.

    >>> copy_accuracy([["a", "b", "a", "b"]], [["b", "b", "a"]])  # scored: b (1st), b (2nd)
    (1.0, 0.0)
    """
    hits, scored = [0, 0], [0, 0]
    for row, guess in zip(rows, predictions):
        half = len(row) // 2
        if len(row) != 2 * half or row[:half] != row[half:]:
            raise ConfigError("each row must be a prefix followed by the same prefix")
        for copy, targets in enumerate((range(1, half), range(half + 1, 2 * half))):
            for target in targets:
                hits[copy] += guess[target - 1] == row[target]
                scored[copy] += 1
    first, second = (hit / max(count, 1) for hit, count in zip(hits, scored))
    return first, second
