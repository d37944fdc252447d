"""`txdata show`: the batches an objective builds, for a person or a script."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from cli import options as o
from cli.atlas import atlas_summary, atlas_tables
from cli.errors import reports_errors
from cli.render import (
    batch_json,
    example_table,
    loss_summary,
    side_by_side_footer,
    side_by_side_table,
)
from cli.render import console as make_console
from txdata.atlas import panel
from txdata.objectives import ARCHITECTURES
from txdata.objectives.registry import ALIASES, objective_names


@reports_errors
@o.with_data_options
def show(
    ctx: typer.Context,
    mode: o.Modes = "mlm",
    batch_size: Annotated[int, typer.Option(help="Examples to show.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the masks (0 is a seed too).")] = 0,
    epoch: Annotated[int, typer.Option(help="Epoch: each draws fresh masks.")] = 0,
    format: Annotated[o.Format, typer.Option(help="table for people, json for scripts.")] = (
        o.Format.table
    ),
    png: Annotated[
        Path | None, typer.Option(help="Also draw the atlas of the objectives to this PNG.")
    ] = None,
) -> None:
    """Print the first batch that an objective builds from a source. Several objectives
    (`--mode all`, or `t5,mlm`): the atlas, one example under each, what the model reads and
    what each position is scored on. `--mode both`: seq2seq and mlm of one source, aligned."""
    # Imported here, not at the top: building data imports torch and datasets, which
    # `txdata show --help` does without.
    from txdata import prepare

    source = ctx.params["source"]
    names = objective_names(mode)
    if names == list(ALIASES["both"]) and png is None:
        show_both(ctx, source, batch_size, seed, epoch, format)
        return
    batches = {}
    for name in names:
        data = prepare(o.data_config(ctx.params, name))
        batches[name] = (data, data.batches(batch_size, seed=seed, epoch=epoch, shuffle=False)[0])
    panels = [panel(data.objective, batch, data.tokenizer) for data, batch in batches.values()]
    # Encoders first, then encoder-decoders, then decoders: alike objectives side by side.
    panels.sort(key=lambda p: ARCHITECTURES.index(p.architecture))
    if format is o.Format.json:
        documents = [
            batch_json(batch, data.tokenizer, name, source, seed)
            for name, (data, batch) in batches.items()
        ]
        if len(names) == 1:
            typer.echo(json.dumps(documents[0]))
            return
        atlas = {p.name: dataclasses.asdict(p) for p in panels}
        typer.echo(json.dumps({**combined(mode, documents), "atlas": atlas}))
        return
    if png is not None:
        from cli.figures import atlas_png  # matplotlib: only when a picture is asked for

        saved = atlas_png(panels, png, source)
        typer.echo(f"atlas saved: {saved}")
    console = make_console()
    if len(names) > 1:
        console.print(
            f"One example of {source} under each objective: what each stack reads, and the "
            "token each position is scored on (· where it carries no loss).",
            style="bold",
        )
        for grid in atlas_tables(panels, console.width):
            console.print()
            console.print(grid)
        console.print()
        console.print(atlas_summary(panels))
        return
    for name, (data, batch) in batches.items():
        objective = data.objective
        for row in range(batch["input_ids"].shape[0]):
            console.print(example_table(batch, row, data.tokenizer, type(objective)))
            console.print(loss_summary(batch, type(objective), row), style="dim")
            console.print()
        console.print(f"{name} on {source}: {loss_summary(batch, type(objective))}", style="bold")


def combined(mode: str, documents: list[dict]) -> dict:
    """One JSON document for several objectives: shared fields once, a key per objective."""
    first = documents[0]
    return {
        "mode": mode,
        "source": first["source"],
        "seed": first["seed"],
        **{d["mode"]: {key: d[key] for key in ("batch", "tokens")} for d in documents},
        "special_tokens": first["special_tokens"],
        "vocab_size": first["vocab_size"],
    }


def show_both(
    ctx: typer.Context, source: str, batch_size: int, seed: int, epoch: int, format
) -> None:
    from txdata.side_by_side import side_by_side

    pair = side_by_side(o.data_config(ctx.params, "seq2seq"), batch_size, seed, epoch)
    if format is o.Format.json:
        documents = [
            batch_json(batch, pair.tokenizer, name, source, seed)
            for name, batch in (("seq2seq", pair.seq2seq), ("mlm", pair.mlm))
        ]
        typer.echo(json.dumps(combined("both", documents)))
        return
    console = make_console()
    for row in range(pair.seq2seq["input_ids"].shape[0]):
        console.print(side_by_side_table(pair, row))
        console.print()
    console.print(side_by_side_footer(pair))
