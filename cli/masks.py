"""`txdata masks`: who may attend to whom in a real batch, as the model's masks say.

$ txdata masks --mode seq2seq --length 6 --pad-to-multiple-of 8
…
seq2seq · decoder self-attention: causal, query t sees the real keys 0..t
                     [ 0 1 0 1 [ [ [
                     B         E P P
                     …
               attn  1 1 1 1 1 0 0 0
  0 [BOS]         1  ■ · · · · · · ·
  1 0             1  ■ ■ · · · · · ·
  …
  5 [EOS]         0  □ □ □ □ □ · · ·
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from cli import options as o
from cli.errors import reports_errors
from txdata.errors import ConfigError
from txdata.objectives import objective_names

if TYPE_CHECKING:  # for the annotations only
    from models.mask_views import MaskGrid

CAPTIONS = {
    "encoder self-attention": "every query sees every real key",
    "decoder self-attention": "causal, query t sees the real keys 0..t",
    "cross-attention": "decoder queries see every real encoder key",
}
ALLOWED, PAD_QUERY, MASKED = "■", "□", "·"
LABEL_WIDTH = 14  # query token strings are cut to this many characters
HEADER_HEIGHT = 10  # key token strings, one character per line, are cut to this many
MARGIN = 4 + LABEL_WIDTH + 3  # position, query token, attention mask, before the first cell


@reports_errors
@o.with_data_options
def masks(
    ctx: typer.Context,
    mode: o.Modes = "both",
    batch_size: Annotated[int, typer.Option(help="Examples in the batch (it sets padding).")] = 4,
    example: Annotated[int, typer.Option(help="Which example of the first batch to draw.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the masks (0 is a seed too).")] = 0,
    epoch: Annotated[int, typer.Option(help="Epoch: each draws fresh masks.")] = 0,
    png: Annotated[Path | None, typer.Option(help="Also draw the masks into this PNG.")] = None,
    format: Annotated[o.Format, typer.Option(help="table for people, json for scripts.")] = (
        o.Format.table
    ),
) -> None:
    """Draw the attention masks of one example of a real batch, as the model applies them."""
    grids = mode_grids(ctx.params)
    if format is o.Format.json:
        typer.echo(json.dumps({"example": example, "masks": [_json(m, g) for m, g in grids]}))
    else:
        console = Console(highlight=False)
        for mode_name, grid in grids:
            console.print(grid_text(f"{mode_name} · {grid.name}", grid), soft_wrap=True)
        console.print(
            f"{ALLOWED} may attend   {MASKED} masked   {PAD_QUERY} may attend, but the query is "
            "padding (attn 0) and its output is never used",
            style="dim",
            soft_wrap=True,
        )
    if png is not None:
        from cli.figures import masks_png  # imports matplotlib: only when a PNG is asked for

        title = f"attention masks of example {example} of the first batch, {ctx.params['source']}"
        written = masks_png([(f"{m} · {g.name}", g) for m, g in grids], png, title)
        # stderr, so that --format json --png leaves stdout one JSON document
        Console(stderr=format is o.Format.json, highlight=False).print(
            f"masks drawn: {written}", soft_wrap=True
        )


def mode_grids(params: dict) -> list[tuple[str, MaskGrid]]:
    """(mode, grid) for each mode asked for, from the first batch of the same data options."""
    # Imported here, not at the top: they import torch and datasets, which `--help` does
    # without.
    from models.mask_views import example_grids
    from txdata import prepare

    if not 0 <= params["example"] < params["batch_size"]:
        raise ConfigError(
            f"example {params['example']} is not in a batch of {params['batch_size']}"
        )
    grids = []
    for mode in objective_names(params["mode"]):
        data = prepare(o.data_config(params, mode))
        batches = data.batches(params["batch_size"], params["seed"], params["epoch"], False)
        batch = batches[0]
        if params["example"] >= batch["input_ids"].shape[0]:
            raise ConfigError(
                f"example {params['example']} is not in the first batch: "
                f"{mode} has only {batch['input_ids'].shape[0]} examples"
            )
        architecture = data.objective.architecture
        example = params["example"]
        grids += [
            (mode, grid) for grid in example_grids(batch, data.tokenizer, example, architecture)
        ]
    return grids


def grid_text(title: str, grid: MaskGrid) -> Text:
    """A title; the key tokens written downwards over their attention mask; then a row per
    query: position, token, attention mask, and a cell per key."""
    text = Text()
    text.append(f"{title}: ", style="bold")
    text.append(f"{CAPTIONS[grid.name]}\n")
    keys = [_cut(key, HEADER_HEIGHT) for key in grid.keys]
    for line in range(max(map(len, keys))):
        text.append(" " * MARGIN)
        reaching = [index for index, key in enumerate(keys) if line < len(key)]
        for index, (key, real) in enumerate(zip(keys[: reaching[-1] + 1], grid.key_real)):
            text.append(" " if index else "")
            text.append(key[line] if line < len(key) else " ", style="" if real else "dim")
        text.append("\n")
    text.append(f"{'attn':>{MARGIN - 2}}  ", style="dim")
    text.append(" ".join(str(int(real)) for real in grid.key_real) + "\n", style="dim")
    rows = zip(grid.queries, grid.query_real, grid.allowed.tolist())
    for position, (query, query_real, row) in enumerate(rows):
        text.append(f"{position:>3} ", style="dim")
        text.append(f"{_cut(query, LABEL_WIDTH):<{LABEL_WIDTH}}", style="" if query_real else "dim")
        text.append(f"{int(query_real)}  ", style="dim")
        for index, allowed in enumerate(row):
            text.append(" " if index else "")
            if not allowed:
                text.append(MASKED, style="dim")
            elif query_real:
                text.append(ALLOWED, style="bold cyan")
            else:
                text.append(PAD_QUERY, style="cyan")
        text.append("\n")
    return text


def _cut(token: str, width: int) -> str:
    return token if len(token) <= width else token[: width - 1] + "…"


def _json(mode: str, grid: MaskGrid) -> dict:
    return {
        "mode": mode,
        "name": grid.name,
        "queries": grid.queries,
        "keys": grid.keys,
        "query_real": grid.query_real,
        "key_real": grid.key_real,
        "allowed": grid.allowed.int().tolist(),
    }
