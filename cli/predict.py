"""`txdata predict`: ask a saved run about one input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli import options as o
from cli.errors import reports_errors
from cli.render import console as make_console


@reports_errors
def predict(
    text: Annotated[str, typer.Argument(help='The input, e.g. "1 0 1 0" or "the [MASK] sat".')],
    run: Annotated[Path, typer.Option(help="A run directory written by txdata train.")],
    top_k: Annotated[int, typer.Option(help="Candidates per position (encoder models).")] = 5,
    max_new_tokens: Annotated[
        int | None,
        typer.Option(help="Most tokens to generate (default: the run's length)."),
    ] = None,
    format: Annotated[o.Format, typer.Option(help="table for people, json for scripts.")] = (
        o.Format.table
    ),
) -> None:
    """Greedy decode (seq2seq; t5 also restores its sentinels), continuation (clm), or the
    top-k tokens per [MASK] (mlm; nsp also reads "A [SEP] B" and says how likely B follows A)."""
    # Imported here, not at the top: it imports torch, which `--help` does without.
    from models.predict import predict as run_prediction

    result = run_prediction(run, text, top_k, max_new_tokens)
    if format is o.Format.json:
        typer.echo(json.dumps(result))
        return
    console = make_console()
    if result["architecture"] == "encoder-decoder":
        console.print(f"{result['input']}  →  [bold]{result['output']}[/]")
        if "reconstruction" in result:
            console.print(f"restored: [bold]{result['reconstruction']}[/]")
        return
    if result["architecture"] == "decoder":
        console.print(f"{result['input']} [bold]{result['output']}[/]")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("pos", justify="right")
    table.add_column("input")
    for rank in range(1, top_k + 1):
        table.add_column(f"#{rank}")
    for fill in result["fills"]:
        cells = [f"{c['token']} {c['probability']:.2f}" for c in fill["candidates"]]
        table.add_row(str(fill["position"]), fill["input"], *cells)
    console.print(table)
    if result.get("follows") is not None:
        console.print(f"P(B follows A) = [bold]{result['follows']:.2f}[/]")
    elif "follows" in result:
        console.print("write 'A [SEP] B' to ask whether B follows A", style="dim")
