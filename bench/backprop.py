"""Backpropagation by hand against autograd: what a training step costs each way, and whether
the default `txdata train --backprop manual` learns what autograd's does.

    python bench/backprop.py [--quick]

Part 1 times a training step, split into its three parts: forward, backward (with gradient
clipping) and the optimizer. "autograd" is what `txdata train` runs: the core's forward (PyTorch's
fused attention kernel), `loss.backward()` and torch's fused AdamW. "manual" is
`--backprop manual`: `models.backprop`'s forward, which saves what its backward needs, the
hand-written backward, and the AdamW written out in Python (a loop over the parameters).
Two sizes: the default model on the default batches of the alternating sequence (seq2seq 64
rows, mlm 128 rows), and the benchmark size of `step.py` (d_model 256, 4 heads, 2 layers,
d_ff 1024, vocab 8,000, 32 rows × 128 tokens of tinyshakespeare). The two alternate in one
process; figures are medians over the repeats. No speed goal: the point is what costs what.

Part 2 runs the default `txdata train --mode M --backprop manual` for every objective and
seed, and autograd's run of the same seed, and reports each objective's held-out metric at
the end and the first evaluation at 100 % (every 50 steps).

Part 3 measures how far the two runs' weights drift apart: the largest absolute difference
between any weight of the default seq2seq run trained each way, same seed, after 10 and
after 300 steps, beside the largest weight (the scale to read it against).

`--parts` picks which parts run (all three by default).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import benchmark_model, describe, model_vocab, packed_windows, prepared
from converge import FirstPerfect
from step import BATCH, LENGTH, mlm_batches, seq2seq_batches

from models.checkpoint import load_run
from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.train import AutogradPasses, ManualPasses, make_optimizer
from models.transformer import ModelConfig, Transformer
from txdata import DataConfig
from txdata.collate import batch_generator
from txdata.objectives import OBJECTIVES
from txdata.pipeline import prepare

PARTS = ("forward", "backward", "optimizer")


def timed_step(passes, optimizer, batch: dict) -> dict[str, float]:
    """One training step, as `train_loop` takes it, with each part's seconds."""
    seconds = {}
    started = time.perf_counter()
    output = passes.forward(batch, 0.0)
    seconds["forward"] = time.perf_counter() - started
    started = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    passes.backward(output, 1.0)
    seconds["backward"] = time.perf_counter() - started
    started = time.perf_counter()
    optimizer.step()
    seconds["optimizer"] = time.perf_counter() - started
    return seconds


def race(name: str, model: Transformer, batches: list[dict], repeats: int) -> dict:
    """The two ways, alternating, on copies of one model: median seconds of each part."""
    ways = {}
    for backprop in ("autograd", "manual"):
        copy = Transformer(model.config, model.architecture)
        copy.load_state_dict(model.state_dict())
        copy.train()
        passes = ManualPasses(copy) if backprop == "manual" else AutogradPasses(copy)
        ways[backprop] = (passes, make_optimizer(copy, TrainConfig(backprop=backprop)))
    timings = {way: {part: [] for part in PARTS} for way in ways}
    for passes, optimizer in ways.values():
        timed_step(passes, optimizer, batches[0])  # warm up
    for _ in range(repeats):
        for way, (passes, optimizer) in ways.items():
            for batch in batches:
                for part, seconds in timed_step(passes, optimizer, batch).items():
                    timings[way][part].append(seconds)
    medians = {
        way: {part: statistics.median(values) for part, values in parts.items()}
        for way, parts in timings.items()
    }
    return {"case": name, "ms": {w: {p: 1e3 * s for p, s in m.items()} for w, m in medians.items()}}


def default_batches(mode: str, count: int) -> tuple[Transformer, list[dict]]:
    data = prepare(DataConfig(objective=mode))
    torch.manual_seed(0)
    model = Transformer(
        ModelConfig(vocab_size=data.tokenizer.get_vocab_size()), type(data.objective).architecture
    )
    size, rows = data.objective.batch_size, data.examples
    starts = [(i * size) % (rows.num_rows - size + 1) for i in range(count)]
    batches = [
        data.objective.collate(rows[start : start + size], batch_generator(0, 0, i))
        for i, start in enumerate(starts)
    ]
    return model, batches


def step_costs(repeats: int, count: int) -> list[dict]:
    results = []
    for mode in ("seq2seq", "mlm"):
        model, batches = default_batches(mode, count)
        results.append(race(f"{mode}, default size", model, batches, repeats))
    data = prepared(LENGTH)
    windows, _ = packed_windows(data, 2 * BATCH * count)
    config = benchmark_model(vocab_size=model_vocab(data), max_len=LENGTH)
    torch.manual_seed(0)
    for mode, architecture, batches in (
        ("mlm", "encoder", mlm_batches(data, windows, count)),
        ("seq2seq", "encoder-decoder", seq2seq_batches(data, windows, count)),
    ):
        results.append(
            race(f"{mode}, benchmark size", Transformer(config, architecture), batches, repeats)
        )
    print(f"benchmark size: {describe(data)}, batch {BATCH} x {LENGTH}")
    return results


def default_run(mode: str, seed: int, backprop: str) -> dict:
    """`txdata train --mode MODE --seed SEED --backprop BACKPROP`: final metric, first 100 %."""
    config = RunConfig(
        DataConfig(objective=mode), ModelConfig(), TrainConfig(seed=seed, backprop=backprop)
    )
    metric = config.data.kind.metric
    watch = FirstPerfect(metric)
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        result = train_run(config, Path(directory) / "run", callbacks=watch)
        seconds = time.perf_counter() - started
    return {"metric": metric, "final": result.metrics[metric], "step": watch.step, "run": seconds}


def drift(seeds: list[int], steps_list: tuple[int, ...] = (10, 300)) -> list[dict]:
    """Largest |autograd − manual| over every weight of the default seq2seq run, per seed."""
    rows = []
    for seed in seeds:
        for steps in steps_list:
            weights = {}
            with tempfile.TemporaryDirectory() as directory:
                for backprop in ("autograd", "manual"):
                    train = TrainConfig(seed=seed, steps=steps, backprop=backprop)
                    config = RunConfig(DataConfig("seq2seq"), ModelConfig(), train)
                    train_run(config, Path(directory) / backprop)
                    weights[backprop] = load_run(Path(directory) / backprop).model.state_dict()
            ours, theirs = weights["manual"], weights["autograd"]
            apart = max(float((theirs[k] - ours[k]).abs().max()) for k in ours)
            largest = max(float(theirs[k].abs().max()) for k in ours)
            rows.append({"seed": seed, "steps": steps, "apart": apart, "largest": largest})
            print(f"seed {seed}, {steps:>3} steps: apart {apart:.1e}, largest weight {largest:.2f}")
    return rows


def convergence(seeds: list[int]) -> list[dict]:
    rows = []
    for mode in OBJECTIVES:
        runs = {b: [default_run(mode, s, b) for s in seeds] for b in ("autograd", "manual")}
        rows.append({"mode": mode, **runs})
        print(convergence_line(mode, runs), flush=True)
    return rows


def median_range(values: list[float], scale: float = 100.0) -> str:
    values = [scale * v for v in values]
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def convergence_line(mode: str, runs: dict) -> str:
    parts = [f"{mode:8s} {runs['manual'][0]['metric']:24s}"]
    for way in ("autograd", "manual"):
        finals = [run["final"] for run in runs[way]]
        steps = [run["step"] for run in runs[way]]
        first = "-" if None in steps else f"{statistics.median(steps):.0f}"
        seconds = statistics.median(run["run"] for run in runs[way])
        parts.append(f"{median_range(finals):>20s} {first:>6s} {seconds:6.1f}")
    return "  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, one seed")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["costs", "training", "drift"],
        default=["costs", "training", "drift"],
    )
    args = parser.parse_args()
    report = {"bench": "backprop"}
    seeds = [0] if args.quick else [0, 1, 2]
    if "costs" in args.parts:
        report["steps"] = step_costs_table(args.quick)
    if "training" in args.parts:
        print(
            f"\ndefault txdata train per objective, seeds {' '.join(map(str, seeds))}: held-out "
            "metric at step 300, median (range) %; first step at 100 %; seconds per run"
        )
        way = f"{{:>20s}} {'first':>6s} {'s':>6s}"
        print(f"{'mode':8s} {'metric':24s} {way.format('autograd')}  {way.format('manual')}")
        report["training"] = convergence(seeds)
    if "drift" in args.parts:
        print("\nthe default seq2seq run, autograd against manual, same seed:")
        report["drift"] = drift(seeds, (10, 20) if args.quick else (10, 300))
    print(json.dumps(report))


def step_costs_table(quick: bool) -> list[dict]:
    repeats, count = (3, 2) if quick else (5, 4)
    print(f"torch threads {torch.get_num_threads()}; ms per step, median of {repeats} x {count}")
    costs = step_costs(repeats, count)
    header = ["case".ljust(26), "way".ljust(9), "forward", " backward", " optimizer", "    step"]
    print(" ".join(header), " manual/autograd")
    for row in costs:
        totals = {way: sum(parts.values()) for way, parts in row["ms"].items()}
        for way, parts in row["ms"].items():
            ratio = f"{totals['manual'] / totals['autograd']:.2f}x" if way == "manual" else ""
            print(
                f"{row['case']:26s} {way:9s} {parts['forward']:8.1f} {parts['backward']:9.1f} "
                f"{parts['optimizer']:10.1f} {totals[way]:8.1f}  {ratio}"
            )
    return costs


if __name__ == "__main__":
    main()
