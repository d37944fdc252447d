"""Depth on a task that needs two steps of lookup: induction (Olsson et al. 2022). Each row is
a random prefix of symbols followed by the same prefix; in the second copy, the next symbol is
what followed the current one in the first. For the learning guide's chapter "What do
stacked layers add?".

    python docs/guide/induction.py [--symbols 16] [--shortest 8] [--longest 16]
                                   [--steps 1500] [--layers 1 2 4] [--seeds 0 1 2] [--quick]

The data is made here, in a temporary folder (models/induction.py): training rows, and fresh
rows of another seed to score on. Each depth trains the decoder-only `clm` objective with the
same steps and sizes; clm's `--no-pack` keeps one row per sequence, and `--length` 2n + 1
fits the longest row and its [EOS] whole. It prints the median and the range over the seeds
of the next-token accuracy on the first copy (chance, 1/V) and on the second (after its
first symbol), and what a guess from position alone scores on the same rows. Runs are kept
under runs/guide/induction/layers-L/seed-S (replaced when they are there).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import datasets
from seeds import spread

from models.checkpoint import load_run
from models.induction import (
    copy_accuracy,
    next_token_predictions,
    positional_guesses,
    repeated_sequences,
    symbols,
    write_task,
)
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import CausalLMOptions, DataConfig, SourceConfig

TRAIN_SEED, TEST_SEED = 0, 1  # of the rows: the scored rows are never trained on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=16, help="V, the symbols drawn from")
    parser.add_argument("--shortest", type=int, default=8, help="shortest prefix")
    parser.add_argument("--longest", type=int, default=16, help="longest prefix")
    parser.add_argument("--rows", type=int, default=20000, help="training rows")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="a tiny model, 20 steps, one seed")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    vocabulary = symbols(args.symbols)
    model = ModelConfig()
    train = TrainConfig(steps=args.steps, eval_every=args.steps, eval_examples=64)
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=20, eval_every=20)
        args.rows, args.seeds = 200, args.seeds[:1]
    train = replace(train, checkpoint_every=train.steps)
    tests = repeated_sequences(1000, vocabulary, args.shortest, args.longest, TEST_SEED)
    accuracies: dict[int, list[tuple[float, float]]] = {layers: [] for layers in args.layers}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        rows = repeated_sequences(args.rows, vocabulary, args.shortest, args.longest, TRAIN_SEED)
        corpus, tokenizer = write_task(rows, vocabulary, Path(folder))
        data = DataConfig(
            "clm",
            SourceConfig(str(corpus)),
            tokenizer=str(tokenizer),
            length=2 * args.longest + 1,  # the longest row and its [EOS]: no row is cut
            options=CausalLMOptions(pack=False),  # one row per sequence, never two run together
        )
        for layers in args.layers:
            for seed in args.seeds:
                directory = Path("runs/guide/induction") / f"layers-{layers}" / f"seed-{seed}"
                config = RunConfig(data, replace(model, layers=layers), replace(train, seed=seed))
                train_run(config, directory, overwrite=True)
                run = load_run(directory)
                ids = [[run.tokenizer.token_to_id(symbol) for symbol in row] for row in tests]
                accuracies[layers].append(
                    copy_accuracy(ids, next_token_predictions(run.model, ids))
                )
    seeds = " ".join(map(str, args.seeds))
    print(
        f"induction: {args.symbols} symbols, prefixes of {args.shortest}-{args.longest}, "
        f"clm, {train.steps} steps of {config.train.batch_size} rows, d_model {model.d_model}, "
        f"seeds {seeds}: median (range)"
    )
    print(f"next-token accuracy on {len(tests)} fresh rows; chance 1/V = {1 / args.symbols:.1%}")
    print(f"{'':<16}{'first copy':<24}second copy (induction)")
    for layers, found in accuracies.items():
        first = spread([100 * pair[0] for pair in found], ".1f") + " %"
        second = spread([100 * pair[1] for pair in found], ".1f") + " %"
        print(f"{f'{layers} layer' + 's' * (layers > 1):<16}{first:<24}{second}")
    first, second = copy_accuracy(tests, positional_guesses(tests, args.shortest, args.longest))
    print(f"{'position alone':<16}{f'{100 * first:.1f} %':<24}{100 * second:.1f} %")
    print(
        "position alone: no model, no induction; after each position, the symbol that most of "
        "the prefix\nlengths the position allows point back at"
    )
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
