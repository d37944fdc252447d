"""Calibration over several seeds: mlm on the English sample, plain, with label smoothing 0.1
and with dropout 0.1; for the learning guide's chapter "Does softmax make models
overconfident?".

    python docs/guide/calibration.py [--steps 1500] [--seeds 0 1 2] [--draws 10] [--quick]

Each variant trains as the chapter's `txdata train --mode mlm --source sample:english
--length 32 --steps 1500` runs do, once per seed. Its held-out examples are then masked
`--draws` times (draw 1 is the mask the run was evaluated with) and every masked position
scored (models/calibration.py): accuracy, mean confidence, expected calibration error (ECE,
15 bins), NLL, the temperature T that minimises the NLL, and the ECE and NLL after dividing
the logits by T (each prediction by the T fitted on the other half of them). It prints the
median and the range over the seeds. Runs are kept under runs/guide/calibration/VARIANT/seed-S
(replaced when they are there); `txdata plot --run RUN --kind reliability` draws one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import datasets
from seeds import spread

from models.calibration import Calibration, run_calibration
from models.checkpoint import load_run
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig

SMOOTHING, DROPOUT = 0.1, 0.1
VARIANTS = {  # name -> (model, training) settings that differ from the plain run
    "plain": ({}, {}),
    f"label smoothing {SMOOTHING}": ({}, {"label_smoothing": SMOOTHING}),
    f"dropout {DROPOUT}": ({"dropout": DROPOUT}, {}),
}
ROWS = {  # printed row -> (value of a Calibration, format, unit)
    "held-out accuracy": (lambda c: 100 * c.accuracy, ".1f", " %"),
    "mean confidence": (lambda c: 100 * c.confidence, ".1f", " %"),
    "ECE": (lambda c: 100 * c.ece, ".1f", " %"),
    "NLL (nats)": (lambda c: c.nll, ".3f", ""),
    "fitted temperature T": (lambda c: c.temperature, ".2f", ""),
    "ECE after T": (lambda c: 100 * c.scaled_ece, ".1f", " %"),
    "NLL after T": (lambda c: c.scaled_nll, ".3f", ""),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--draws", type=int, default=10, help="mask draws of the held-out rows")
    parser.add_argument("--quick", action="store_true", help="a tiny model, 6 steps, one seed")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    data = DataConfig("mlm", SourceConfig("sample:english"), length=32)
    model = ModelConfig()
    train = TrainConfig(steps=args.steps, eval_every=args.steps, checkpoint_every=args.steps)
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=6, eval_every=6, checkpoint_every=6)
        args.seeds, args.draws = args.seeds[:1], 2
    found: dict[str, list[Calibration]] = {name: [] for name in VARIANTS}
    started = time.perf_counter()
    for name, (model_settings, train_settings) in VARIANTS.items():
        for seed in args.seeds:
            config = RunConfig(
                data,
                replace(model, **model_settings),
                replace(train, seed=seed, **train_settings),
            )
            folder = name.split()[0]  # plain, label, dropout
            directory = Path("runs/guide/calibration") / folder / f"seed-{seed}"
            train_run(config, directory, overwrite=True)
            found[name].append(run_calibration(directory, args.draws))
    vocabulary = load_run(directory).config.model.vocab_size  # the same in every run
    seeds = " ".join(map(str, args.seeds))
    count = statistics.median(c.count for calibrations in found.values() for c in calibrations)
    print(
        f"mlm on sample:english, --length {data.length}, {train.steps} steps of "
        f"{RunConfig(data, model).train.batch_size} rows, seeds {seeds}: median (range)"
    )
    print(
        f"scored: the held-out rows masked {args.draws} times, about {count:,.0f} predictions "
        "per run; ECE over 15 equal-width confidence bins"
    )
    print(f"{'':<22}" + "".join(f"{name:<24}" for name in VARIANTS).rstrip())
    for row, (value, form, unit) in ROWS.items():
        cells = [spread([value(c) for c in found[name]], form) + unit for name in VARIANTS]
        print(f"{row:<22}" + "".join(f"{cell:<24}" for cell in cells).rstrip())
    target = 1 - SMOOTHING + SMOOTHING / vocabulary
    print(
        f"label smoothing {SMOOTHING} trains toward probability 1 - {SMOOTHING} + {SMOOTHING}/V "
        f"= {target:.5f} on the target (V = {vocabulary} tokens), {SMOOTHING}/V on each other"
    )
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
