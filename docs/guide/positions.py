"""Positional encodings and longer inputs: the figures of the guide's chapter on positions.

    python docs/guide/positions.py [--seeds 0 1 2] [--quick]

Each encoding (none, learned, sinusoidal, rope) trains seq2seq on the pattern `1 1 0` with
12-token windows (10 symbols, `[EOS]`), the defaults otherwise, and is evaluated on 24-token
windows further along the sequence (22 symbols). Free-running exact match mixes two effects:
where to stop, and what to write at positions never trained on. So the decoder is also read
teacher-forced, given the true prefix, position by position:

- `within`: accuracy on the first 10 target symbols, the positions training covered;
- `stops`: the share of rows where, after 10 symbols, it predicts `[EOS]`, as training taught;
- `beyond`: accuracy on symbols 12 to 22, past every trained position (the 11th, where training
  always had `[EOS]`, is left out: `stops` counts it);
- `same length`: free-running exact match on held-out windows of the trained length, where
  `none` shows what a model without positions cannot tell apart.

Median (range) over the seeds. Runs are kept under runs/guide/positions/ENCODING-seed-S.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from seeds import parse, percent

from models.checkpoint import load_run
from models.evaluate import evaluate
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.transformer import ModelConfig
from txdata import DataConfig, SourceConfig, prepare
from txdata.batches import Batches
from txdata.collate import batch_generator
from txdata.heldout import heldout_split
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

ENCODINGS = ("none", "learned", "sinusoidal", "rope")
TRAINED, EVALUATED = 12, 24  # window lengths, special tokens included


@torch.no_grad()
def teacher_forced(directory: Path) -> dict[str, float]:
    """`within`, `stops`, `beyond` and `same length` (see the module docstring)."""
    run = load_run(directory)
    data = prepare(run.config.data, tokenizer=run.tokenizer)
    special = SpecialIds.of(run.tokenizer)
    _, same, _ = heldout_split(data, run.config.train.eval_examples)
    batches = Batches(same, data.objective.collate, 64, 0, shuffle=False)
    same_length = evaluate(run.model, batches, torch.device("cpu"), special)["exact_match"]
    _, held, _ = heldout_split(data, run.config.train.eval_examples, EVALUATED)
    batch = data.objective.collate(held[:], batch_generator(0, 0, 0))
    run.model.eval()
    predicted = run.model(batch).logits.argmax(dim=-1)  # (B, T)
    labels = batch["labels"]  # (B, T): 22 symbols, then [EOS]
    right = (predicted == labels) & (labels != IGNORE_INDEX)
    trained = TRAINED - 2  # symbols in a training target
    eos = special.eos
    return {
        "same": same_length,
        "within": right[:, :trained].float().mean().item(),
        "stops": (predicted[:, trained] == eos).float().mean().item(),
        "beyond": right[:, trained + 1 : EVALUATED - 2].float().mean().item(),
    }


def main() -> None:
    args = parse(__doc__)
    data = DataConfig("seq2seq", SourceConfig(pattern="1 1 0"), length=TRAINED)
    model, train = ModelConfig(), TrainConfig(eval_length=EVALUATED)
    if args.quick:
        model = replace(model, d_model=16, heads=2, d_ff=32)
        train = replace(train, steps=4, eval_every=4)
    rows = {}
    for encoding in ENCODINGS:
        found = []
        for seed in args.seeds:
            directory = Path("runs/guide/positions") / f"{encoding}-seed-{seed}"
            config = RunConfig(data, replace(model, positional=encoding), replace(train, seed=seed))
            result = train_run(config, directory, overwrite=True)
            found.append({"exact": result.metrics["exact_match"], **teacher_forced(directory)})
        rows[encoding] = found
    seeds = " ".join(map(str, args.seeds))
    print(
        f"seq2seq on '1 1 0', trained on {TRAINED}-token windows, evaluated on {EVALUATED}: "
        f"median (range) over seeds {seeds}"
    )
    columns = ("same", "exact", "within", "stops", "beyond")
    names = {
        "same": "same length (free)",
        "exact": "24: exact (free)",
        "within": "symbols 1-10",
        "stops": "stops after 10",
        "beyond": "symbols 12-22",
    }
    print(f"{'positional':<11}" + "".join(f"{names[c]:>22}" for c in columns))
    for encoding, found in rows.items():
        cells = [percent([row[column] for row in found]) for column in columns]
        print(f"{encoding:<11}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
