"""Token embeddings and the sinusoidal code: the figures of the guide's first two chapters.

    python docs/guide/embeddings.py [--seeds 0 1 2] [--quick]

1. Sizes at initialisation, for the default width D = 64: a token vector is drawn with
   components N(0, 0.02²) and multiplied by √D, as `models/transformer.py` does; a row of the
   sinusoidal table holds D/2 (sin, cos) pairs, each pair of norm 1. Their mean norms, and
   the same after training the default seq2seq model on the alternating sequence (median
   and range over the seeds; only the tokens the data uses are counted).
2. Draws the sinusoidal table, 64 positions × 64 dimensions, and four of its columns, into
   docs/guide/img/sinusoids.png.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import torch
from seeds import parse, spread

from models.checkpoint import load_run
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig, Transformer, sinusoidal_positions
from txdata import DataConfig, prepare

WIDTH = 64


def norms(model: Transformer, token_ids: list[int], length: int) -> tuple[float, float]:
    """Mean norm of the scaled token vectors of `token_ids`, and of the first `length` rows
    of the sinusoidal table."""
    embeddings = model.embeddings
    tokens = embeddings.tokens.weight[token_ids] * embeddings.scale  # (N, D)
    positions = sinusoidal_positions(length, tokens.shape[1])  # (T, D)
    return tokens.norm(dim=1).mean().item(), positions.norm(dim=1).mean().item()


def draw(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = sinusoidal_positions(64, WIDTH)  # (T, D)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    image = left.imshow(table.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, origin="lower")
    left.set(xlabel="position", ylabel="dimension", title="sinusoidal table (D = 64)")
    figure.colorbar(image, ax=left)
    for dimension in (0, 1, 10, 30):
        kind = "sin" if dimension % 2 == 0 else "cos"
        wavelength = 2 * math.pi * 10000 ** ((dimension - dimension % 2) / WIDTH)
        label = f"dim {dimension} ({kind}, wavelength {wavelength:.0f})"
        right.plot(table[:, dimension], label=label)
    right.set(xlabel="position", title="four columns: wavelengths grow geometrically")
    right.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    args = parse(__doc__)
    train = TrainConfig()
    if args.quick:
        train = replace(train, steps=4, eval_every=4)
    data = DataConfig("seq2seq")
    tokenizer = prepare(data).tokenizer
    used = [tokenizer.token_to_id(symbol) for symbol in ("0", "1")]
    before, after, code = [], [], None
    for seed in args.seeds:
        torch.manual_seed(seed)
        config = ModelConfig(vocab_size=tokenizer.get_vocab_size())
        token_norm, code = norms(Transformer(config, "encoder-decoder"), used, data.length)
        before.append(token_norm)
        directory = Path("runs/guide/embeddings") / f"seed-{seed}"
        train_run(
            RunConfig(data, ModelConfig(), replace(train, seed=seed)), directory, overwrite=True
        )
        after.append(norms(load_run(directory).model, used, data.length)[0])
    seeds = " ".join(map(str, args.seeds))
    print(f"D = {WIDTH}; mean norm, median (range) over seeds {seeds}")
    print(
        f"token vector × √D at initialisation (std 0.02 × √D × √D = {0.02 * WIDTH:.2f}): "
        f"{spread(before, '.2f')}"
    )
    print(f"token vector × √D after training (300 steps, seq2seq): {spread(after, '.2f')}")
    expected = math.sqrt(WIDTH / 2)
    print(f"sinusoidal code, positions 0-{data.length - 1} (√(D/2) = {expected:.2f}): {code:.2f}")
    path = Path("docs/guide/img/sinusoids.png")
    draw(path)
    print(f"drawn: {path}")


if __name__ == "__main__":
    main()
