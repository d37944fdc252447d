"""Greedy generation with and without the key/value cache of `models/decode.py`.

    python bench/generate.py [--quick]

Needs nothing beyond txdata. Times 128 new tokens for a batch of 8 at d_model 256, 4 heads,
4 layers, d_ff 1024, vocab 8,000: seq2seq (`greedy_decode`) from sources of 40-64 tokens,
and decoder-only (`greedy_continue`) from prompts of 40-64 tokens, padded in the batch. The
models are untrained and no row stops early ([EOS] is never made), so both ways make the same
8 × 128 tokens; the cached way feeds the decoder one position a step, the uncached way the
whole prefix again. Tokens/s counts new tokens. The two ways alternate in one process, and
the figures are medians of the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from models.decode import greedy_continue, greedy_decode
from models.transformer import ModelConfig, build_model

BATCH, NEW_TOKENS, SHORTEST, LONGEST = 8, 128, 40, 64
CONFIG = ModelConfig(vocab_size=8000, d_model=256, heads=4, layers=4, d_ff=1024, max_len=512)
BOS, NEVER = 5, -1  # an [EOS] id no model makes: every row runs the full 128 steps
GOAL = 3.0


def padded_prompts() -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 64) random ids, rows of 40 to 64 real tokens padded on the right."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(7, CONFIG.vocab_size, (BATCH, LONGEST), generator=generator)
    lengths = torch.linspace(SHORTEST, LONGEST, BATCH).long()[:, None]  # (B, 1)
    mask = (torch.arange(LONGEST) < lengths).long()
    return ids.masked_fill(mask == 0, 0), mask


def generator_of(architecture: str):
    """A function of `use_cache` that makes the 8 × 128 tokens and returns them."""
    torch.manual_seed(0)
    model = build_model(architecture, CONFIG).eval()
    ids, mask = padded_prompts()
    if architecture == "encoder-decoder":
        return lambda use_cache: greedy_decode(model, ids, mask, BOS, NEVER, NEW_TOKENS, use_cache)
    return lambda use_cache: greedy_continue(model, ids, mask, NEVER, NEW_TOKENS, use_cache)


def race(generate, repeats: int) -> dict:
    """Alternate cached and uncached generation; median seconds of each, and their tokens."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    generate(True)  # warm up
    for _ in range(repeats):
        for use_cache in (True, False):
            started = time.perf_counter()
            outputs[use_cache] = generate(use_cache)
            seconds[use_cache].append(time.perf_counter() - started)
    made = sum(map(len, outputs[True]))
    cached, uncached = statistics.median(seconds[True]), statistics.median(seconds[False])
    return {
        "new_tokens": made,
        "same_tokens": outputs[True] == outputs[False],
        "cached_tokens_per_s": made / cached,
        "uncached_tokens_per_s": made / uncached,
        "ratio": uncached / cached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    repeats = 2 if parser.parse_args().quick else 5
    rows = []
    for case, architecture in (("seq2seq", "encoder-decoder"), ("decoder", "decoder")):
        rows.append({"case": case, **race(generator_of(architecture), repeats)})
    print(
        f"batch {BATCH}, {NEW_TOKENS} new tokens, prompts of {SHORTEST}-{LONGEST} tokens, "
        f"d_model {CONFIG.d_model}, {CONFIG.layers} layers, vocab {CONFIG.vocab_size:,}, "
        f"torch threads {torch.get_num_threads()}, {repeats} repeats"
    )
    print(
        f"{'case':<8} {'cached tok/s':>13} {'uncached tok/s':>15} {'ratio':>6} {'same tokens':>12}"
    )
    for row in rows:
        print(
            f"{row['case']:<8} {row['cached_tokens_per_s']:>13,.0f} "
            f"{row['uncached_tokens_per_s']:>15,.0f} {row['ratio']:>5.2f}× "
            f"{'yes' if row['same_tokens'] else 'NO':>12}"
        )
    for row in rows:
        met = "met" if row["ratio"] >= GOAL and row["same_tokens"] else "NOT met"
        print(f"{row['case']}: cache {row['ratio']:.2f}× (goal ≥ {GOAL}×): {met}")
    print(json.dumps({"bench": "generate", "results": rows}))


if __name__ == "__main__":
    main()
