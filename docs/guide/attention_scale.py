"""Why attention divides its scores by √K: the figures of the guide's chapter on attention.

    python docs/guide/attention_scale.py [--seeds 0 1 2] [--quick]

Scores q·k of two random K-dimensional vectors with unit-variance components have variance K,
so as heads widen, softmax(q·kᵀ) saturates: nearly all of a row's weight on one key, and
gradients through the other weights near zero. Dividing by √K brings the variance back to 1.

Part 1, no training: the spread of q·k for random vectors, and the entropy of a softmax row
over 16 keys, with and without the scale, for head widths K of 4 to 256.
Part 2: seq2seq on `sample:numbers` (600 steps, the default model: 4 heads of K = 16) with
and without the scale: the mean entropy of the encoder's self-attention rows on held-out
input, after training, and the held-out exact match, median (range) over the seeds.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import torch
from seeds import parse, percent, spread

from models.checkpoint import load_run
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig, prepare
from txdata.collate import batch_generator
from txdata.heldout import heldout_split

KEYS = 16


def entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each softmax row (the last axis): log L when uniform, 0 on one key."""
    return -(weights * torch.log(weights.clamp_min(1e-30))).sum(dim=-1)


def random_scores() -> None:
    generator = torch.Generator().manual_seed(0)
    uniform = math.log(KEYS)
    print(f"random q, k with N(0, 1) components, rows of {KEYS} keys (uniform: {uniform:.2f} nats)")
    print(f"{'K':>5}{'std of q·k':>12}{'entropy, q·k':>16}{'entropy, q·k/√K':>18}")
    for width in (4, 16, 64, 256):
        q = torch.randn(10_000, 1, width, generator=generator)
        k = torch.randn(10_000, KEYS, width, generator=generator)
        scores = (q * k).sum(dim=-1)  # (N, L)
        raw = entropy(scores.softmax(dim=-1)).mean()
        scaled = entropy((scores / math.sqrt(width)).softmax(dim=-1)).mean()
        print(f"{width:>5}{scores.std():>12.2f}{raw:>16.2f}{scaled:>18.2f}")


@torch.no_grad()
def encoder_entropy(directory: Path) -> float:
    """Mean entropy of the encoder's self-attention rows on the run's held-out inputs."""
    run = load_run(directory)
    data = prepare(run.config.data, tokenizer=run.tokenizer)
    _, held, _ = heldout_split(data, run.config.train.eval_examples)
    batch = data.objective.collate(held[:64], batch_generator(0, 0, 0))
    run.model.eval()
    attentions = [block.self_attention for block in run.model.encoder.blocks]
    for attention in attentions:
        attention.keep_weights = True
    run.model.encode(batch["input_ids"], batch["attention_mask"])
    real = batch["attention_mask"].bool()[:, None, :]  # (B, 1, S): rows of real queries
    rows = [
        entropy(attention.weights)[real.expand_as(entropy(attention.weights))]
        for attention in attentions
    ]
    return torch.cat(rows).mean().item()


def main() -> None:
    args = parse(__doc__)
    random_scores()
    data = DataConfig("seq2seq", SourceConfig("sample:numbers"), length=16)
    model, train = ModelConfig(), TrainConfig(steps=600)
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=4, eval_every=4)
    seeds = " ".join(map(str, args.seeds))
    print(f"\nseq2seq on sample:numbers, {train.steps} steps, median (range) over seeds {seeds}")
    print(f"{'scores':<10}{'encoder attention entropy':>28}{'exact match':>26}")
    for scaled in (True, False):
        entropies, exact = [], []
        for seed in args.seeds:
            name = "scaled" if scaled else "unscaled"
            directory = Path("runs/guide/attention-scale") / f"{name}-seed-{seed}"
            config = RunConfig(
                data, replace(model, attention_scale=scaled), replace(train, seed=seed)
            )
            exact.append(train_run(config, directory, overwrite=True).metrics["exact_match"])
            entropies.append(encoder_entropy(directory))
        label = "q·k/√K" if scaled else "q·k"
        print(f"{label:<10}{spread(entropies, '.2f') + ' nats':>28}{percent(exact):>26}")


if __name__ == "__main__":
    main()
