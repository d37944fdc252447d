"""`txdata show`: the batches an objective builds, for a person or a script."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli import options as o
from cli.errors import reports_errors
from cli.render import (
    batch_json,
    example_table,
    loss_summary,
    side_by_side_footer,
    side_by_side_table,
)
from cli.render import console as make_console
from txdata import prepare
from txdata.side_by_side import side_by_side


@reports_errors
@o.with_data_options
def show(
    ctx: typer.Context,
    mode: o.ShowMode = "mlm",
    batch_size: Annotated[int, typer.Option(help="Examples to show.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the masks (0 is a seed too).")] = 0,
    epoch: Annotated[int, typer.Option(help="Epoch: each draws fresh masks.")] = 0,
    format: Annotated[o.Format, typer.Option(help="table for people, json for scripts.")] = (
        o.Format.table
    ),
) -> None:
    """Print the first batch that an objective builds from a source (`--mode both`: the same
    source as seq2seq and as mlm, side by side)."""
    source = ctx.params["source"]
    if mode == "both":
        show_both(ctx, source, batch_size, seed, epoch, format)
        return
    data = prepare(o.data_config(ctx.params))
    batch = data.batches(batch_size, seed=seed, epoch=epoch, shuffle=False)[0]
    if format is o.Format.json:
        document = batch_json(batch, data.tokenizer, mode, source, seed)
        typer.echo(json.dumps(document))
        return
    console = make_console()
    for row in range(batch["input_ids"].shape[0]):
        console.print(example_table(batch, row, data.tokenizer))
        console.print(loss_summary(batch, row), style="dim")
        console.print()
    console.print(f"{mode} on {source}: {loss_summary(batch)}", style="bold")


def show_both(
    ctx: typer.Context, source: str, batch_size: int, seed: int, epoch: int, format
) -> None:
    pair = side_by_side(o.data_config({**ctx.params, "mode": "seq2seq"}), batch_size, seed, epoch)
    if format is o.Format.json:
        halves = {
            mode: batch_json(batch, pair.tokenizer, mode, source, seed)
            for mode, batch in (("seq2seq", pair.seq2seq), ("mlm", pair.mlm))
        }
        document = {
            "mode": "both",
            "source": source,
            "seed": seed,
            **{
                mode: {key: half[key] for key in ("batch", "tokens")}
                for mode, half in halves.items()
            },
            "special_tokens": halves["mlm"]["special_tokens"],
            "vocab_size": halves["mlm"]["vocab_size"],
        }
        typer.echo(json.dumps(document))
        return
    console = make_console()
    for row in range(pair.seq2seq["input_ids"].shape[0]):
        console.print(side_by_side_table(pair, row))
        console.print()
    console.print(side_by_side_footer(pair))
