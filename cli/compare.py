"""`txdata compare`: the same core, source and budget, trained under several objectives."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli import options as o
from cli.errors import reports_errors
from cli.render import console as make_console
from models.config import ModelConfig
from models.run_config import TrainConfig
from txdata.objectives import objective_names

# One budget for all: the same rows per step, so that the comparison is of objectives only.
SAME_BUDGET = o.options_of(TrainConfig, "Training", defaults={"batch_size": 64, "eval_every": 100})


@reports_errors
@o.with_options(o.DATA_OPTIONS, o.MODEL_OPTIONS, SAME_BUDGET)
def compare(
    ctx: typer.Context,
    mode: o.Modes = "both",
    out: Annotated[Path | None, typer.Option(help="Folder for the runs, one per objective.")] = (
        None
    ),
    overwrite: Annotated[bool, typer.Option(help="Replace runs already there.")] = False,
) -> None:
    """Train several objectives on the same source with the same budget, and compare them."""
    # Imported here, not at the top: they import torch, which `txdata compare --help` and the
    # other commands do without.
    from cli.progress import TrainingProgress
    from models.compare import compare_objectives, what_the_table_shows

    names = objective_names(mode)
    params = ctx.params
    data = o.data_config(params, names[0])
    model = o.fields_from(ModelConfig, params, max_len=max(512, data.length))
    train = o.fields_from(TrainConfig, params)
    directory = out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    console = make_console()
    with TrainingProgress(console) as progress:

        def progress_for(name: str) -> TrainingProgress:
            progress.label = name
            return progress

        rows = compare_objectives(
            data, model, train, directory, names, overwrite, progress_for,
            ["txdata", *sys.argv[1:]],
        )  # fmt: skip
    table = Table(
        title=f"same core, same {train.steps} steps of {train.batch_size} rows, "
        f"on {data.source.source}",
        title_justify="left",
        box=None,
    )
    for column in ("mode", "tokens read", "with a loss", "final loss", "task metric", "time"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    table.add_column("tokens/s", justify="right")
    for row in rows:
        table.add_row(
            row.objective,
            f"{row.tokens_read:,}",
            f"{row.loss_tokens:,} ({row.loss_share:.0%})",
            f"{row.final_loss:.4f}",
            row.metric_label.format(f"{row.metric:.1%}"),
            f"{row.seconds:.1f} s",
            f"{row.tokens_per_second:,.0f}",
        )
    console.print(table)
    console.print(what_the_table_shows(rows), soft_wrap=True)
    saved = ", ".join(str(directory / name) for name in names)
    console.print(f"runs saved: {saved}", soft_wrap=True)
