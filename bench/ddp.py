"""Training on 1 and 2 processes under torchrun: what DDP costs or gains on this machine.

    python bench/ddp.py [--quick]

Each run is `torchrun --standalone --nproc-per-node N bench/ddp.py --worker …`, which trains
mlm on the benchmark corpus at the benchmark size (d_model 256, 4 heads, 2 layers, d_ff 1024,
vocab 8,000) with a global batch of 32 rows of up to 128 tokens, the same batches whatever N.
Tokens/s counts every real token of the global batch per second of training steps
(evaluation and start-up excluded). Three set-ups alternate, one repeat each at a time:

    1 process, every core's threads   what `txdata train` does alone
    1 process, 1 thread               one core's worth of work
    2 processes, 1 thread each        DDP over gloo: both cores, as two processes

On a 2-core machine DDP has no idle core to add: the figure to read is its overhead against
one process that already uses both cores through intra-op threads. The reference is one
process, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import D_MODEL, LAYERS, VOCAB, benchmark_model, corpus, corpus_name

ROOT = Path(__file__).parents[1]
SETUPS = [  # (label, processes, threads per process; None: torch's default, every core)
    ("1 process, all threads", 1, None),
    ("1 process, 1 thread", 1, 1),
    ("2 processes, 1 thread each", 2, 1),
]


def worker(steps: int, out: str) -> None:
    """One run, inside torchrun; process 0 prints its figures as one JSON line."""
    import torch

    from models.run import train_run
    from models.run_config import RunConfig, TrainConfig
    from txdata import DataConfig, SourceConfig

    data = DataConfig(
        "mlm", SourceConfig(corpus()), length=128, tokenizer="wordpiece", vocab_size=VOCAB
    )
    model = benchmark_model(dropout=0.0)
    train = TrainConfig(
        steps=steps, batch_size=32, eval_every=steps, eval_examples=32, checkpoint_every=steps
    )
    result = train_run(RunConfig(data, model, train), Path(out))
    if int(os.environ.get("RANK", 0)) == 0:
        loop = result.loop
        figures = {
            "processes": int(os.environ.get("WORLD_SIZE", 1)),
            "threads": torch.get_num_threads(),
            "tokens_per_second": loop.tokens_read / loop.seconds,
            "seconds_per_step": loop.seconds / steps,
        }
        print(json.dumps(figures))


def launch(processes: int, threads: int | None, steps: int) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    environment.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        environment["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += [f"--nproc-per-node={processes}", __file__, "--worker"]
        command += ["--steps", str(steps), "--out", str(Path(folder) / "run")]
        done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"torchrun failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 steps, 1 repeat")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps or (10 if args.quick else 40)
    if args.worker:
        worker(steps, args.out)
        return
    repeats = 1 if args.quick else 3
    size = f"vocab {VOCAB:,}, d_model {D_MODEL}, {LAYERS} layers"
    print(f"# ddp: mlm, corpus {corpus_name()}, {size}")
    print(f"# global batch 32 rows × ≤128 tokens, {steps} steps, median of {repeats} repeats")
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in SETUPS}
    for _ in range(repeats):
        for label, processes, threads in SETUPS:
            runs[label].append(launch(processes, threads, steps))
    reference = statistics.median(r["tokens_per_second"] for r in runs[SETUPS[0][0]])
    print(f"{'set-up':<28} {'threads':>7} {'tokens/s (range)':>26} {'× 1 process':>12}")
    summary = {}
    for label, _, _ in SETUPS:
        speeds = [r["tokens_per_second"] for r in runs[label]]
        median = statistics.median(speeds)
        spread = f"{median:,.0f} ({min(speeds):,.0f}-{max(speeds):,.0f})"
        threads = runs[label][0]["threads"]
        print(f"{label:<28} {threads:>7} {spread:>26} {median / reference:>11.2f}×")
        summary[label] = {"tokens_per_second": median, "ratio": median / reference}
    print(json.dumps({"bench": "ddp", "steps": steps, "repeats": repeats, "results": summary}))


if __name__ == "__main__":
    main()
