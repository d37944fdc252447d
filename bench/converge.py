"""Convergence: how fast the default `txdata train` learns, and what an equal budget teaches.

    python bench/converge.py [--quick] [--budget SECONDS]

Part 1 runs the default `txdata train` (same config, in process) on the alternating sequence,
once per seed, and records the first evaluation at 100 % held-out on the objective's own
metric (free-running exact match for seq2seq and clm, masked-token accuracy for mlm): its
step and the wall time since training began, evaluation and checkpoints included.
Evaluations come every 50 steps, so steps are multiples of 50.

Part 2 trains txdata's mlm core and HF `BertForMaskedLM` at the same dimensions (d_model 256,
4 heads, 2 layers, d_ff 1024, vocab 8,000, dropout 0) on the same batches of tinyshakespeare
(32 × 128, txdata's masking), with the same AdamW, warmup and clipping, for the same
wall-clock budget each. The budget is spent in alternating slices so that drift on the
machine hits both alike. Then both predict the same held-out masks. That part is one training
run per model; its accuracy is the median over 5 mask draws of the held-out windows.
Needs the `bench` extra (transformers).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import (
    VOCAB,
    benchmark_model,
    describe,
    hf_bert,
    model_vocab,
    packed_windows,
    prepared,
)
from torch import nn

from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.train import Callbacks
from models.transformer import ModelConfig, Transformer
from txdata import DataConfig
from txdata.collate import batch_generator
from txdata.special_tokens import IGNORE_INDEX

GOAL_STEPS, GOAL_SECONDS = 300, 10.0
BATCH, LENGTH, HELD_OUT = 32, 128, 64
LR, WARMUP = 1e-3, 100


class FirstPerfect(Callbacks):
    """Notes the first evaluation at 100 % and when it came, counted from the first step."""

    def __init__(self, metric: str) -> None:
        self.metric, self.started = metric, 0.0
        self.step: int | None = None
        self.seconds: float | None = None

    def on_start(self, step: int, steps: int) -> None:
        self.started = time.perf_counter()

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        if self.step is None and metrics.get(self.metric) == 1.0:
            self.step, self.seconds = step, time.perf_counter() - self.started


def default_run(mode: str, seed: int) -> dict:
    """`txdata train --mode MODE --seed SEED`, timed."""
    config = RunConfig(DataConfig(objective=mode), ModelConfig(), TrainConfig(seed=seed))
    watch = FirstPerfect(config.data.kind.metric)
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        train_run(config, Path(directory) / "run", callbacks=watch)
        total = time.perf_counter() - started
    return {"mode": mode, "seed": seed, "step": watch.step, "seconds": watch.seconds, "run": total}


class Trainer:
    """One model, its optimizer and its place in the shared stream of batches."""

    def __init__(self, model: nn.Module, loss_of, batch_at) -> None:
        self.model, self.loss_of, self.batch_at = model.train(), loss_of, batch_at
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, fused=True)
        self.step, self.seconds = 0, 0.0

    def train_for(self, seconds: float) -> None:
        """Whole steps until `seconds` more of training time are spent."""
        end = self.seconds + seconds
        while self.seconds < end:
            started = time.perf_counter()
            for group in self.optimizer.param_groups:
                group["lr"] = LR * min(1.0, (self.step + 1) / WARMUP)
            loss = self.loss_of(self.model, self.batch_at(self.step))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.step += 1
            self.seconds += time.perf_counter() - started

    @torch.no_grad()
    def accuracy(self, batches: list[dict], logits_of) -> float:
        """Masked-token accuracy: the argmax over the vocabulary, where a label is set."""
        self.model.eval()
        correct = total = 0
        for batch in batches:
            labels = batch["labels"]
            predicted = logits_of(self.model, batch).argmax(dim=-1)  # (B, T)
            scored = labels != IGNORE_INDEX
            correct += int((predicted[scored] == labels[scored]).sum())
            total += int(scored.sum())
        self.model.train()
        return correct / total


def equal_budget(budget: float, slices: int) -> dict:
    data = prepared(LENGTH)
    vocab = model_vocab(data)
    windows, _ = packed_windows(data)
    held_out_count = min(HELD_OUT, len(windows) // 5)  # the bundled sample is small
    train, held_out = windows[:-held_out_count], windows[-held_out_count:]
    collate = data.objective.collate
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
    per_epoch = len(train) // BATCH

    def batch_at(step: int) -> dict:
        epoch, index = divmod(step, per_epoch)
        rows = [train[order[(index * BATCH + i) % len(train)]] for i in range(BATCH)]
        return collate({"input_ids": rows}, batch_generator(0, epoch, index))

    evaluation_draws = [
        [
            collate({"input_ids": held_out[i : i + BATCH]}, batch_generator(1 + draw, 0, i))
            for i in range(0, held_out_count, BATCH)
        ]
        for draw in range(5)
    ]
    config = benchmark_model(vocab_size=vocab, max_len=LENGTH)
    torch.manual_seed(0)
    ours = Trainer(Transformer(config, "encoder"), lambda m, b: m(b, logits=False).loss, batch_at)
    theirs = Trainer(hf_bert(vocab, LENGTH), lambda m, b: m(**b).loss, batch_at)
    for _ in range(slices):
        ours.train_for(budget / slices)
        theirs.train_for(budget / slices)

    def accuracy(trainer: Trainer, logits_of) -> float:
        return statistics.median(trainer.accuracy(draw, logits_of) for draw in evaluation_draws)

    row = {
        "budget_s": budget,
        "txdata_steps": ours.step,
        "hf_steps": theirs.step,
        "txdata_accuracy": accuracy(ours, lambda m, b: m(b).logits),
        "hf_accuracy": accuracy(theirs, lambda m, b: m(**b).logits),
        "train_windows": len(train),
        "vocab": vocab,
        "data": describe(data),
    }
    row["ratio"] = row["txdata_accuracy"] / max(row["hf_accuracy"], 1e-9)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed and a 20 s budget")
    parser.add_argument("--budget", type=float, help="seconds of training per model in part 2")
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1, 2, 3, 4]
    budget = args.budget or (20.0 if args.quick else 180.0)

    runs = [default_run(mode, seed) for seed in seeds for mode in ("seq2seq", "mlm", "clm")]
    print(f"Part 1: default `txdata train` on the alternating sequence, seeds {seeds}")
    print(f"{'mode':<8} {'steps to 100%':>14} {'seconds to 100%':>16} {'whole run':>10}  goal")
    summary = []
    for mode in ("seq2seq", "mlm", "clm"):
        mine = [run for run in runs if run["mode"] == mode]
        reached = [run for run in mine if run["step"] is not None]
        steps = statistics.median(run["step"] for run in reached) if reached else None
        seconds = statistics.median(run["seconds"] for run in reached) if reached else None
        worst = max((run["step"] for run in reached), default=None)
        whole = statistics.median(run["run"] for run in mine)
        met = len(reached) == len(mine) and worst <= GOAL_STEPS and seconds <= GOAL_SECONDS
        summary.append(
            {
                "mode": mode,
                "median_steps": steps,
                "worst_steps": worst,
                "median_seconds": seconds,
                "reached": f"{len(reached)}/{len(mine)}",
                "whole_run_s": whole,
                "goal_met": met,
            }
        )
        shown = "never" if steps is None else f"{steps:.0f} (worst {worst})"
        timing = "-" if seconds is None else f"{seconds:.1f} s"
        goal = f"≤ {GOAL_STEPS} steps, ≤ {GOAL_SECONDS:.0f} s: {'met' if met else 'NOT met'}"
        print(f"{mode:<8} {shown:>14} {timing:>16} {whole:>8.1f} s  {goal}")

    row = equal_budget(budget, slices=2 if args.quick else 6)
    print(f"\nPart 2: mlm, {row['data']}, {budget:.0f} s of training each, batch {BATCH}×{LENGTH}")
    print(f"{'model':<18} {'steps':>6} {'masked accuracy':>16}")
    print(f"{'txdata':<18} {row['txdata_steps']:>6} {row['txdata_accuracy']:>15.1%}")
    print(f"{'HF BertForMaskedLM':<18} {row['hf_steps']:>6} {row['hf_accuracy']:>15.1%}")
    print(f"ratio {row['ratio']:.2f}× (goal ≥ 1.0×: {'met' if row['ratio'] >= 1 else 'NOT met'})")
    print(
        json.dumps(
            {
                "bench": "converge",
                "vocab": VOCAB,
                "default_runs": runs,
                "summary": summary,
                "equal_budget": row,
            }
        )
    )


if __name__ == "__main__":
    main()
