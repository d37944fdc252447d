"""Training-step speed: txdata's core against HF `BertForMaskedLM` and a `torch.nn.Transformer`.

    python bench/step.py [--quick] [--dropout 0.1]

Needs the `bench` extra (transformers). Every model has d_model 256, 4 heads, 2 layers (per
stack), d_ff 1024 and vocab 8,000, and trains on the same batches of 32 rows × 128 tokens
drawn from tinyshakespeare: mlm batches from txdata's collator, and seq2seq batches whose
source is one 128-token window and whose target is the next. A step is forward, backward and
fused AdamW, the same on both sides. Tokens/s counts every token the model reads (encoder and
decoder). Windows are cut from the documents run together, so no row is padding.

txdata's models are asked for the loss only, as `txdata train` asks: the LM head then runs at
the labelled positions alone (15 % of them for mlm), so its FLOPs per step are the FLOPs it
actually does, fewer than BERT's for the same model and loss.

The two sides of each race alternate in one process; figures are medians of the repeats.
FLOPs per step come from `torch.utils.flop_counter` (matmuls and attention, forward and
backward). MFU is achieved FLOP/s over the fp32 matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings

import torch
from common import (
    benchmark_model,
    describe,
    hf_bert,
    model_vocab,
    packed_windows,
    prepared,
)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from models.transformer import ModelConfig, Transformer, sinusoidal_positions
from txdata.collate import batch_generator
from txdata.objectives.seq2seq import Seq2Seq

BATCH, LENGTH = 32, 128
GOALS, GOAL_MFU = {"mlm": 1.5, "seq2seq": 1.1}, 0.5


def matmul_peak(seconds: float = 1.0) -> float:
    """The best fp32 FLOP/s of a square matmul on this machine, in this process."""
    best = 0.0
    for size in (512, 1024, 2048):
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b  # warm up
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds / 3:
            a @ b
            count += 1
        best = max(best, 2 * size**3 * count / (time.perf_counter() - started))
    return best


class TorchSeq2Seq(nn.Module):
    """The seq2seq model a PyTorch user writes with `nn.Transformer`, as in its tutorial:
    scaled embeddings plus sinusoidal positions, pre-LN stacks, and a head tied to the
    embedding. The same parameters as txdata's encoder-decoder `Transformer`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.scale = math.sqrt(config.d_model)
        self.register_buffer("positions", sinusoidal_positions(config.max_len, config.d_model))
        self.transformer = nn.Transformer(
            d_model=config.d_model,
            nhead=config.heads,
            num_encoder_layers=config.layers,
            num_decoder_layers=config.layers,
            dim_feedforward=config.d_ff,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.head = nn.Linear(config.d_model, config.vocab_size)
        self.head.weight = self.embedding.weight

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids) * self.scale + self.positions[: ids.shape[1]]

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        target = batch["decoder_input_ids"]
        hidden = self.transformer(
            self.embed(batch["input_ids"]),
            self.embed(target),
            # Boolean like the padding masks (True: may not attend), which keeps PyTorch on
            # its fast path rather than converting the masks at every call.
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(target.shape[1]) != 0,
            src_key_padding_mask=batch["attention_mask"] == 0,
            tgt_key_padding_mask=batch["decoder_attention_mask"] == 0,
            memory_key_padding_mask=batch["attention_mask"] == 0,
            tgt_is_causal=True,
        )
        logits = self.head(hidden)
        return nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten())


def mlm_batches(data, windows: list[list[int]], count: int) -> list[dict]:
    """txdata's mlm batches (15 % masked, 80/10/10) of full 128-token windows."""
    return [
        data.objective.collate(
            {"input_ids": windows[i * BATCH : (i + 1) * BATCH]}, batch_generator(0, 0, i)
        )
        for i in range(count)
    ]


def seq2seq_batches(data, windows: list[list[int]], count: int) -> list[dict]:
    """Source: a 128-token window; target: the window after it. No padding anywhere."""
    objective = Seq2Seq(data.tokenizer, LENGTH)
    return [
        objective.collate(
            {
                "input_ids": windows[2 * i * BATCH : (2 * i + 1) * BATCH],
                "labels": windows[(2 * i + 1) * BATCH : (2 * i + 2) * BATCH],
            }
        )
        for i in range(count)
    ]


def make_step(model: nn.Module, loss_of, lr: float = 1e-4):
    # Fused AdamW on both sides, as `txdata train` and HF's Trainer (adamw_torch_fused) use it.
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, fused=True)

    def step(batch: dict) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_of(model, batch).backward()
        optimizer.step()

    return step


def tokens_in(batch: dict) -> int:
    return batch["input_ids"].numel() + batch.get("decoder_input_ids", torch.empty(0)).numel()


def step_flops(model: nn.Module, loss_of, batch: dict) -> int:
    with FlopCounterMode(display=False) as counter:
        loss_of(model, batch).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def race(name, ours, theirs, batches, repeats, steps_per_repeat) -> dict:
    """Alternate: `steps_per_repeat` steps of ours, then of theirs, `repeats` times."""
    timings = {"txdata": [], "reference": []}
    for step in (ours, theirs):
        step(batches[0])  # warm up allocators and kernels
    for _ in range(repeats):
        for key, step in (("txdata", ours), ("reference", theirs)):
            started = time.perf_counter()
            for index in range(steps_per_repeat):
                step(batches[index % len(batches)])
            timings[key].append((time.perf_counter() - started) / steps_per_repeat)
    seconds = {key: statistics.median(values) for key, values in timings.items()}
    return {"case": name, "seconds": seconds}


def main() -> None:
    # nn.Transformer warns that pre-LN turns off its nested-tensor path: expected, and noise.
    warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--dropout", type=float, default=0.0, help="for every model alike")
    args = parser.parse_args()
    repeats, steps = (5, 2) if args.quick else (7, 5)
    torch.manual_seed(0)

    data = prepared(LENGTH)
    windows, _ = packed_windows(data, 2 * BATCH * steps)
    batches = mlm_batches(data, windows, steps)
    s2s_batches = seq2seq_batches(data, windows, steps)
    config = benchmark_model(vocab_size=model_vocab(data), max_len=LENGTH, dropout=args.dropout)
    ours_mlm = Transformer(config, "encoder")
    bert = hf_bert(config.vocab_size, LENGTH, args.dropout)
    ours_s2s = Transformer(config, "encoder-decoder")
    torch_s2s = TorchSeq2Seq(config)

    def our_loss(model, batch):
        return model(batch, logits=False).loss  # as `txdata train` asks for it

    def bert_loss(model, batch):
        return model(**batch).loss

    def torch_loss(model, batch):
        return model(batch)

    cases = [
        ("mlm", "HF BertForMaskedLM", ours_mlm, our_loss, bert, bert_loss, batches),
        ("seq2seq", "nn.Transformer", ours_s2s, our_loss, torch_s2s, torch_loss, s2s_batches),
    ]
    peak = matmul_peak()
    rows = []
    for name, reference, ours, ours_loss, theirs, theirs_loss, case_batches in cases:
        row = race(
            name,
            make_step(ours, ours_loss),
            make_step(theirs, theirs_loss),
            case_batches,
            repeats,
            steps,
        )
        tokens = tokens_in(case_batches[0])
        flops = {
            "txdata": step_flops(ours, ours_loss, case_batches[0]),
            "reference": step_flops(theirs, theirs_loss, case_batches[0]),
        }
        for key in ("txdata", "reference"):
            row[f"{key}_tokens_per_s"] = tokens / row["seconds"][key]
            row[f"{key}_gflop_per_step"] = flops[key] / 1e9
        row["reference"] = reference
        row["ratio"] = row["seconds"]["reference"] / row["seconds"]["txdata"]
        rows.append(row)
    peak = max(peak, matmul_peak())  # the higher of two measurements: MFU errs low, not high
    for row in rows:  # MFU against the final peak
        for key in ("txdata", "reference"):
            row[f"{key}_mfu"] = row[f"{key}_gflop_per_step"] * 1e9 / row["seconds"][key] / peak

    print(
        f"{describe(data)}, batch {BATCH}×{LENGTH}, torch threads {torch.get_num_threads()},"
        f" fp32 matmul peak {peak / 1e9:.1f} GFLOP/s"
    )
    print(f"{'case':<8} {'model':<19} {'tokens/s':>9} {'GFLOP/step':>11} {'MFU':>5}")
    for row in rows:
        for key, model in (("txdata", "txdata"), ("reference", row["reference"])):
            print(
                f"{row['case']:<8} {model:<19} {row[f'{key}_tokens_per_s']:>9,.0f} "
                f"{row[f'{key}_gflop_per_step']:>11.1f} {row[f'{key}_mfu']:>5.0%}"
            )
    for row in rows:
        goal, mfu = GOALS[row["case"]], row["txdata_mfu"]
        met = row["ratio"] >= goal and mfu >= GOAL_MFU
        print(
            f"{row['case']}: {row['ratio']:.2f}× {row['reference']} (goal ≥ {goal}×), "
            f"MFU {mfu:.0%} (goal ≥ {GOAL_MFU:.0%}): {'met' if met else 'NOT met'}"
        )
    print(json.dumps({"bench": "step", "peak_flops": peak, "results": rows}))


if __name__ == "__main__":
    main()
