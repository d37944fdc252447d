"""`txdata predict`: a saved run answers one input, as its architecture does.

    encoder            the top-k tokens at each [MASK] (at every position when there is none)
    encoder-decoder    a greedy decode of the input; for t5, also the input with each
                       sentinel replaced by the span the model wrote for it
    decoder            a greedy continuation of the input, stopping at [EOS]

Example (on a trained run)::

    predict(Path("runs/s2s"), "1 0 1 0")
    # {'mode': 'seq2seq', 'architecture': 'encoder-decoder', 'input': '1 0 1 0',
    #  'output': '0 1 0 1'}
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer

from models.checkpoint import load_run
from models.decode import greedy_continue, greedy_decode, top_k_fills
from txdata.errors import ConfigError, TokenizerError
from txdata.special_tokens import SpecialIds


def predict(directory: Path, text: str, k: int = 5, max_new_tokens: int | None = None) -> dict:
    """What the run's model makes of `text`; `max_new_tokens` defaults to the run's length."""
    if k < 1 or (max_new_tokens is not None and max_new_tokens < 1):
        raise ConfigError("--top-k and --max-new-tokens must be at least 1")
    run = load_run(directory)
    run.model.eval()
    tokenizer, special = run.tokenizer, SpecialIds.of(run.tokenizer)
    if k > tokenizer.get_vocab_size():
        raise ConfigError(
            f"--top-k {k} is more than the {tokenizer.get_vocab_size()} tokens the run knows"
        )
    objective = run.config.data.build(tokenizer)
    batch = objective.frame(encode_known(tokenizer, text))
    ids, mask = batch["input_ids"], batch["attention_mask"]  # (1, S)
    found = {"mode": objective.name, "architecture": objective.architecture, "input": text}
    length = max_new_tokens or run.config.data.length
    if objective.architecture == "encoder-decoder":
        output = greedy_decode(run.model, ids, mask, special.bos, special.eos, length)[0]
        output = output[: output.index(special.eos)] if special.eos in output else output
        # Special tokens stay visible: t5's output is sentinels, each followed by its span.
        found["output"] = tokenizer.decode(output, skip_special_tokens=False)
        restored = objective.reconstruct(ids[0].tolist(), output)
        if restored is not None:
            found["reconstruction"] = tokenizer.decode(restored, skip_special_tokens=False)
        return found
    if objective.architecture == "decoder":
        room = run.config.model.max_len - ids.shape[1]  # positions the model can still read
        output = greedy_continue(run.model, ids, mask, special.eos, max(1, min(length, room)))[0]
        return {**found, "output": tokenizer.decode(output)}
    masked = (ids[0] == special.mask).nonzero().flatten()
    columns = masked if len(masked) else torch.arange(1, ids.shape[1] - 1)
    positions = torch.stack([torch.zeros_like(columns), columns], dim=1)  # (N, 2)
    top_ids, probabilities = top_k_fills(run.model, ids, mask, positions, k)
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
    return {**found, "fills": fills}


def encode_known(tokenizer: Tokenizer, text: str) -> list[int]:
    """The ids of `text`, no special tokens added; refuse an empty input or an unknown token.

    >>> from txdata.tokenizer import alternating_tokenizer
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
