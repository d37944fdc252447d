"""`txdata predict`: a saved run answers one input.

>>> predict(Path("runs/s2s"), "1 0 1 0")
{'mode': 'seq2seq', 'input': '1 0 1 0', 'output': '0 1 0 1'}
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer

from models.checkpoint import load_run
from models.decode import greedy_decode, top_k_fills
from txdata.errors import TokenizerError
from txdata.special_tokens import SpecialIds


def predict(directory: Path, text: str, k: int = 5) -> dict:
    """A greedy decode (seq2seq), or the top-k tokens at each [MASK] (mlm; at every position
    when the input has no [MASK])."""
    run = load_run(directory)
    run.model.eval()
    tokenizer, special = run.tokenizer, SpecialIds.of(run.tokenizer)
    known = encode_known(tokenizer, text)
    length = run.config.data.length
    if run.config.mode == "seq2seq":
        ids = torch.tensor([[*known[: length - 1], special.eos]])
        output = greedy_decode(
            run.model, ids, torch.ones_like(ids), special.bos, special.eos, length
        )
        return {"mode": "seq2seq", "input": text, "output": tokenizer.decode(output[0])}
    ids = torch.tensor([[special.cls, *known[: length - 2], special.sep]])
    masked = (ids[0] == special.mask).nonzero().flatten()
    columns = masked if len(masked) else torch.arange(1, ids.shape[1] - 1)
    positions = torch.stack([torch.zeros_like(columns), columns], dim=1)  # (N, 2)
    top_ids, probabilities = top_k_fills(run.model, ids, torch.ones_like(ids), positions, k)
    fills = [
        {
            "position": int(column),
            "input": tokenizer.id_to_token(int(ids[0, column])),
            "candidates": [
                {"token": tokenizer.id_to_token(i), "probability": round(p, 4)}
                for i, p in zip(candidates, chances)
            ],
        }
        for column, candidates, chances in zip(columns, top_ids.tolist(), probabilities.tolist())
    ]
    return {"mode": "mlm", "input": text, "fills": fills}


def encode_known(tokenizer: Tokenizer, text: str) -> list[int]:
    """The ids of `text`, no special tokens added; refuse an empty input or an unknown token.

    >>> encode_known(alternating_tokenizer("1 0"), "1 0 [MASK]")
    [8, 7, 4]
    """
    encoding = tokenizer.encode(text, add_special_tokens=False)
    if not encoding.ids:
        raise TokenizerError("the input is empty")
    unk = SpecialIds.of(tokenizer).unk
    if unk in encoding.ids:
        unknown = [
            text[start:end]
            for token, (start, end) in zip(encoding.ids, encoding.offsets)
            if token == unk
        ]
        raise TokenizerError(
            f"this run's tokenizer cannot encode {' '.join(map(repr, unknown))}; "
            f"it knows {tokenizer.get_vocab_size()} tokens"
        )
    return encoding.ids
