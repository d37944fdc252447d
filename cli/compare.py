"""`txdata compare`: the same core, source and budget, trained as seq2seq and as mlm."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli import options as o
from cli.errors import reports_errors
from cli.progress import TrainingProgress
from cli.render import console as make_console
from models.checkpoint import TrainConfig
from models.compare import compare_modes, reading
from models.transformer import ModelConfig


@reports_errors
@o.with_data_options
def compare(
    ctx: typer.Context,
    d_model: Annotated[int, typer.Option(help="Width of token vectors.")] = 64,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = 4,
    layers: Annotated[int, typer.Option(help="Blocks per stack.")] = 2,
    steps: Annotated[int, typer.Option(help="Optimizer steps, the same for both.")] = 300,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 64,
    eval_every: Annotated[int, typer.Option(help="Steps between evaluations.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of weights, batches and masks.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Folder for both runs.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace runs already there.")] = False,
) -> None:
    """Train seq2seq and mlm on the same source with the same budget, and compare them."""
    data = o.data_config({**ctx.params, "mode": "seq2seq"})
    model = ModelConfig(d_model=d_model, heads=heads, layers=layers, max_len=max(512, data.length))
    train = TrainConfig(
        steps=steps, batch_size=batch_size, eval_every=eval_every, seed=seed, device=device
    )
    directory = out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    console = make_console()
    with TrainingProgress(console) as progress:

        def progress_for(mode: str) -> TrainingProgress:
            progress.label = mode
            return progress

        rows = compare_modes(
            data, model, train, directory, overwrite, progress_for, ["txdata", *sys.argv[1:]]
        )
    table = Table(
        title=f"same core, same {steps} steps, on {data.source.source}",
        title_justify="left",
        box=None,
    )
    for column in ("mode", "tokens read", "with a loss", "final loss", "task metric", "time"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    table.add_column("tokens/s", justify="right")
    for row in rows:
        metric = "exact match" if row.metric_name == "exact_match" else "masked accuracy"
        table.add_row(
            row.mode,
            f"{row.tokens_read:,}",
            f"{row.loss_tokens:,} ({row.loss_share:.0%})",
            f"{row.final_loss:.4f}",
            f"{metric} {row.metric:.1%}",
            f"{row.seconds:.1f} s",
            f"{row.tokens_per_second:,.0f}",
        )
    console.print(table)
    console.print(reading(rows), soft_wrap=True)
    console.print(f"runs saved: {directory}/seq2seq and {directory}/mlm", soft_wrap=True)
