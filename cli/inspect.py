"""`txdata attention` and `txdata plot`: what a trained run learned, drawn into PNG files."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import reports_errors

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
    # Imported in each command, not at the top: torch and matplotlib, which `--help` does
    # without.
    from cli.figures import plot_attention

    written = plot_attention(run, text, png or run / "attention.png")
    Console(highlight=False).print(f"attention maps drawn: {written}", soft_wrap=True)


class Figure(str, Enum):
    curves = "curves"
    reliability = "reliability"


@reports_errors
def plot(
    run: Run,
    kind: Annotated[
        Figure,
        typer.Option(
            help="curves: held-out loss and accuracy against step, from metrics.jsonl. "
            "reliability: accuracy per confidence bin of the held-out predictions, before "
            "and after temperature scaling, with the expected calibration error (ECE)."
        ),
    ] = Figure.curves,
    draws: Annotated[
        int,
        typer.Option(
            help="Reliability: mask the held-out examples this many times (mlm and other "
            "objectives that draw masks), for more predictions; 1 scores what training did."
        ),
    ] = 1,
    png: Annotated[Path | None, typer.Option(help="Where to draw (default RUN/KIND.png).")] = None,
) -> None:
    """Held-out loss and accuracy curves of a run, or its reliability diagram."""
    from cli.figures import plot_metrics, plot_reliability

    console = Console(highlight=False)
    png = png or run / f"{kind.value}.png"
    if kind is Figure.curves:
        written = plot_metrics(run, png)
        console.print(f"curves drawn: {written}", soft_wrap=True)
        return
    c = plot_reliability(run, png, draws)
    console.print(f"reliability diagram drawn: {png}", soft_wrap=True)
    console.print(
        f"{c.count:,} held-out predictions, accuracy {c.accuracy:.1%}: "
        f"ECE {c.ece:.1%} -> {c.scaled_ece:.1%} and NLL {c.nll:.3f} -> {c.scaled_nll:.3f} "
        f"after temperature scaling (T = {c.temperature:.2f})",
        soft_wrap=True,
    )
