"""The `txdata` app: one module per command, registered here."""

from __future__ import annotations

import datasets
import typer

from cli.compare import compare
from cli.errors import OneLineErrors
from cli.export import export
from cli.gradcheck import gradcheck
from cli.inspect import attention, plot
from cli.masks import masks
from cli.predict import predict
from cli.show import show
from cli.train import train

app = typer.Typer(
    cls=OneLineErrors, add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False
)


@app.callback()
def main() -> None:
    """txdata: how seq2seq, BERT-style and GPT-style training data differ, from the same text.

    Try `txdata show --mode mlm`, then `txdata train --mode seq2seq` and `txdata predict`.
    """
    # The CLI draws its own output; datasets' progress bars would only add noise.
    datasets.disable_progress_bars()


app.command()(show)
app.command()(train)
app.command()(predict)
app.command()(masks)
app.command()(attention)
app.command()(plot)
app.command()(compare)
app.command()(gradcheck)
app.command()(export)


def run() -> None:
    app()
