"""`txdata show`: the batches an objective builds, for a person or a script."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from cli import options as o
from cli.errors import reports_errors
from cli.render import batch_json, example_table, loss_summary
from txdata import prepare


@reports_errors
def show(
    ctx: typer.Context,
    mode: o.Mode = "mlm",
    source: o.Source = "alternating",
    pattern: o.Pattern = "1 0",
    length: o.Length = 12,
    count: o.Count = 256,
    offset: o.Offset = 0,
    task: o.Task = "shift",
    horizon: o.Horizon = 4,
    tokenizer: o.TokenizerKind = "auto",
    vocab_size: o.VocabSize = 2000,
    text_column: o.TextColumn = "text",
    source_column: o.SourceColumn = "source",
    target_column: o.TargetColumn = "target",
    pad_to_multiple_of: o.PadToMultipleOf = None,
    mlm_probability: o.MlmProbability = 0.15,
    mask_probability: o.MaskProbability = 0.8,
    random_probability: o.RandomProbability = 0.1,
    whole_word: o.WholeWord = False,
    exact_count: o.ExactCount = False,
    batch_size: Annotated[int, typer.Option(help="Examples to show.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the masks (0 is a seed too).")] = 0,
    epoch: Annotated[int, typer.Option(help="Epoch: each draws fresh masks.")] = 0,
    format: Annotated[o.Format, typer.Option(help="table for people, json for scripts.")] = (
        o.Format.table
    ),
) -> None:
    """Print the first batch that an objective builds from a source."""
    data = prepare(o.data_config(ctx.params))
    batch = data.batches(batch_size, seed=seed, epoch=epoch, shuffle=False)[0]
    if format is o.Format.json:
        document = batch_json(batch, data.tokenizer, mode, source, seed)
        typer.echo(json.dumps(document))
        return
    console = Console(highlight=False)
    for row in range(batch["input_ids"].shape[0]):
        console.print(example_table(batch, row, data.tokenizer))
        console.print(loss_summary(batch, row), style="dim")
        console.print()
    console.print(f"{mode} on {source}: {loss_summary(batch)}", style="bold")
