"""How step time grows with sequence length: the T² of attention against the T of the rest.

    python bench/sequence_length.py [--quick]

Times one training step (forward, backward) of the default encoder (d_model 64, 2 layers) at
batch 8, for lengths 32 … 2048, and prints time per step and per token. Per-token time that
climbs with T is the attention score matrix (B, H, T, T) taking over from the linear layers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from models.transformer import ModelConfig, Transformer


def step_seconds(model: Transformer, length: int, batch: int, repeats: int) -> float:
    ids = torch.randint(7, 100, (batch, length))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    timings = []
    for _ in range(repeats + 1):  # the first call warms up
        started = time.perf_counter()
        model(inputs).loss.backward()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer lengths and repeats")
    quick = parser.parse_args().quick
    torch.manual_seed(0)
    lengths = [32, 128, 512] if quick else [32, 64, 128, 256, 512, 1024, 2048]
    model = Transformer(ModelConfig(vocab_size=100, max_len=max(lengths)), "encoder")
    rows = []
    print(f"{'length':>7} {'ms/step':>9} {'µs/token':>9} {'attention scores':>17}")
    for length in lengths:
        seconds = step_seconds(model, length, batch=8, repeats=2 if quick else 5)
        per_token = seconds / (8 * length) * 1e6
        scores = 8 * 4 * length * length  # B × H × T × T, per layer
        rows.append({"length": length, "ms_per_step": seconds * 1e3, "us_per_token": per_token})
        print(f"{length:>7} {seconds * 1e3:>9.1f} {per_token:>9.2f} {scores:>17,}")
    print(
        json.dumps({"bench": "sequence_length", "threads": torch.get_num_threads(), "rows": rows})
    )


if __name__ == "__main__":
    main()
