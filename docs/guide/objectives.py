"""Every objective, the same core, source and budget, over several seeds: the figures of the
learning guide's chapter "What each objective teaches".

    python docs/guide/objectives.py [--source sample:english] [--length 32] [--steps 600]
                                    [--seeds 0 1 2] [--quick]

For each objective it prints the median and the range over the seeds of the tokens read, the
tokens that carried a loss, the held-out loss and the objective's own metric. Runs are kept
under runs/guide/objectives-SOURCE/seed-S/NAME (replaced when they are there).
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path

import datasets
from seeds import spread

from models.compare import compare_objectives
from models.run_config import TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig
from txdata.objectives import OBJECTIVES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="alternating")
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="a tiny model, 4 steps, one seed")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    model = ModelConfig()
    train = TrainConfig(batch_size=64, steps=args.steps, eval_every=max(args.steps // 3, 1))
    data = DataConfig(source=SourceConfig(args.source), length=args.length)
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=4, eval_every=4)
        data = replace(data, source=replace(data.source, count=40))
        args.seeds = args.seeds[:1]
    folder = Path("runs/guide") / f"objectives-{args.source.replace(':', '-')}"
    runs = {name: [] for name in OBJECTIVES}
    for seed in args.seeds:
        rows = compare_objectives(
            data,
            model,
            replace(train, seed=seed),
            folder / f"seed-{seed}",
            list(OBJECTIVES),
            overwrite=True,
        )
        for row in rows:
            runs[row.objective].append(row)
    seeds = " ".join(map(str, args.seeds))
    print(
        f"{args.source}, --length {args.length}, {train.steps} steps of {train.batch_size} rows, "
        f"seeds {seeds}: median (range)"
    )
    header = f"{'objective':<10} {'tokens read':>12} {'with a loss':>12} {'share':>6}"
    print(f"{header}  {'held-out loss':<24} task metric")
    for name, rows in runs.items():
        read = statistics.median(row.tokens_read for row in rows)
        scored = statistics.median(row.loss_tokens for row in rows)
        loss = spread([row.final_loss for row in rows], ".3f")
        metric = spread([100 * row.metric for row in rows], ".1f") + " %"
        label = rows[0].metric_label.format(metric)
        print(
            f"{name:<10} {read:>12,.0f} {scored:>12,.0f} {scored / read:>6.0%}  {loss:<24} {label}"
        )


if __name__ == "__main__":
    main()
