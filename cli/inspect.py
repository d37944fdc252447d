"""`txdata attention` and `txdata plot`: what a trained run learned, drawn into PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import reports_errors
from cli.figures import plot_attention, plot_metrics

Run = Annotated[Path, typer.Option(help="A run directory written by txdata train.")]


@reports_errors
def attention(
    text: Annotated[str, typer.Argument(help='The input, e.g. "1 0 1 0" or "the [MASK] sat".')],
    run: Run,
    png: Annotated[
        Path | None, typer.Option(help="Where to draw (default RUN/attention.png).")
    ] = None,
) -> None:
    """Heatmaps of the attention weights of every layer and head on one input."""
    written = plot_attention(run, text, png or run / "attention.png")
    Console(highlight=False).print(f"attention maps drawn: {written}", soft_wrap=True)


@reports_errors
def plot(
    run: Run,
    png: Annotated[
        Path | None, typer.Option(help="Where to draw (default RUN/curves.png).")
    ] = None,
) -> None:
    """Held-out loss and accuracy curves of a run, from its metrics.jsonl."""
    written = plot_metrics(run, png or run / "curves.png")
    Console(highlight=False).print(f"curves drawn: {written}", soft_wrap=True)
