"""Two classic decoder bugs, and what each does to the scores: the figures of the guide's
chapter on training and what goes wrong.

    python docs/guide/leaky.py [--seeds 0 1 2] [--quick]

seq2seq on the alternating sequence with the default settings, three ways:

- right: the decoder reads `[BOS]` and the target shifted right, under a causal mask;
- labels as input (`--labels-as-decoder-input`): the decoder reads the labels themselves, so
  position t reads the token it must predict;
- no causal mask (`--no-causal-mask`): the input is shifted right, but every position also
  sees the positions after it, and so the token it must predict (one place on).

Teacher-forced accuracy (the decoder given the true target) and free-running exact match
(the decoder reading its own output), median (range) over the seeds, at the end of training
and at the first evaluation, step 50 (from each run's metrics.jsonl), where the right decoder
has not yet learned to read the input's phase.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from seeds import parse, percent

from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig
from txdata.objectives.seq2seq import Seq2SeqOptions

WAYS = {
    "right": (Seq2SeqOptions(), {}),
    "labels as input": (Seq2SeqOptions(labels_as_decoder_input=True), {}),
    "no causal mask": (Seq2SeqOptions(), {"causal_mask": False}),
}


def main() -> None:
    args = parse(__doc__)
    model, train = ModelConfig(), TrainConfig()
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=4, eval_every=4)
    print(
        "seq2seq on the alternating sequence, defaults, median (range) over seeds "
        + " ".join(map(str, args.seeds))
    )
    header = f"{'teacher-forced accuracy':>26}{'free-running exact match':>28}"
    print(f"{'decoder':<16}{header}{'step':>6}")
    first = train.eval_every
    for name, (options, settings) in WAYS.items():
        accuracy, exact = [], []
        early = {"accuracy": [], "exact_match": []}
        for seed in args.seeds:
            config = RunConfig(
                DataConfig("seq2seq", options=options),
                replace(model, **settings),
                replace(train, seed=seed),
            )
            folder = Path("runs/guide/leaky") / f"{name.replace(' ', '-')}-seed-{seed}"
            metrics = train_run(config, folder, overwrite=True).metrics
            accuracy.append(metrics["accuracy"])
            exact.append(metrics["exact_match"])
            for line in (folder / "metrics.jsonl").read_text().splitlines():
                record = json.loads(line)
                if record["step"] == first:
                    for key in early:
                        early[key].append(record[key])
        print(f"{name:<16}{percent(accuracy):>26}{percent(exact):>28}{train.steps:>6}")
        print(
            f"{'':<16}{percent(early['accuracy']):>26}{percent(early['exact_match']):>28}{first:>6}"
        )


if __name__ == "__main__":
    main()
