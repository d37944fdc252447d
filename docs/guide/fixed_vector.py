"""A fixed-length vector or attention: the figures of the guide's chapter on attention.

    python docs/guide/fixed_vector.py [--seeds 0 1 2] [--lengths 4 8 16 32] [--quick]

The same encoder-decoder twice: with attention (`--memory attention`, the default: every
decoder step looks at every encoder position) and with a fixed-length bottleneck
(`--memory pooled`: the decoder's cross-attention sees one vector, the mean of the encoder's
outputs, as the pre-attention seq2seq models of Cho et al. and Sutskever et al. (2014) saw one
final state). Two tasks:

- copy: the source is n random symbols of ten (`c f a j …`), the target the same n symbols,
  for n in `--lengths`; 3,000 pairs per length, written to a temporary folder, 10 % held out.
  A vector of fixed size must hold more as n grows: accuracy against input length is the
  curve Bahdanau et al. (2015) drew for translation;
- numbers: `sample:numbers`, number words to digits.

Each run: the default model and training settings (600 steps for numbers). Reported: held-out
token accuracy (teacher-forced) and free-running exact match, median (range) over the seeds.
"""

from __future__ import annotations

import json
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from seeds import parse, percent

from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig

SYMBOLS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
MEMORIES = ("attention", "pooled")


def copy_pairs(path: Path, length: int, count: int, seed: int = 0) -> Path:
    """`count` pairs of `length` random symbols, source = target, as JSON lines."""
    draw = random.Random(seed)
    with path.open("w") as handle:
        for _ in range(count):
            text = " ".join(draw.choice(SYMBOLS) for _ in range(length))
            handle.write(json.dumps({"source": text, "target": text}) + "\n")
    return path


def scores(data: DataConfig, model: ModelConfig, train: TrainConfig, seeds, name: str) -> dict:
    """Per memory: the held-out accuracy and exact match of each seed."""
    found = {memory: {"accuracy": [], "exact_match": []} for memory in MEMORIES}
    for memory in MEMORIES:
        for seed in seeds:
            directory = Path("runs/guide/fixed-vector") / f"{name}-{memory}-seed-{seed}"
            config = RunConfig(data, replace(model, memory=memory), replace(train, seed=seed))
            metrics = train_run(config, directory, overwrite=True).metrics
            for key in found[memory]:
                found[memory][key].append(metrics[key])
    return found


def main() -> None:
    args = parse(__doc__, ("--lengths", {"type": int, "nargs": "+", "default": [4, 8, 16, 32]}))
    model, train, count = ModelConfig(), TrainConfig(), 3000
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=4, eval_every=4)
        args.lengths, count = args.lengths[:1], 100
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for length in args.lengths:
            path = copy_pairs(Path(folder) / f"copy-{length}.jsonl", length, count)
            # The symbols, [EOS] and room to spare: no source or target is ever cut.
            data = DataConfig("seq2seq", SourceConfig(str(path)), length=length + 2)
            rows.append(
                (f"copy {length}", scores(data, model, train, args.seeds, f"copy-{length}"))
            )
    numbers = DataConfig("seq2seq", SourceConfig("sample:numbers"), length=16)
    steps = train.steps if args.quick else 600
    rows.append(
        ("numbers", scores(numbers, model, replace(train, steps=steps), args.seeds, "numbers"))
    )
    seeds = " ".join(map(str, args.seeds))
    print(f"attention against a fixed-length vector, median (range) over seeds {seeds}")
    header = "".join(f"{f'{m}: accuracy':>24}{f'{m}: exact match':>24}" for m in MEMORIES)
    print(f"{'task':<10}{header}")
    for task, found in rows:
        cells = [
            percent(found[memory][key])
            for memory in MEMORIES
            for key in ("accuracy", "exact_match")
        ]
        print(f"{task:<10}" + "".join(f"{cell:>24}" for cell in cells))


if __name__ == "__main__":
    main()
