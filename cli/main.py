"""The `txdata` app: one module per command, registered here.

`txdata --help` and every `txdata CMD --help` import no torch, datasets or matplotlib: a
command module imports at its top only what describes its options (typer, rich, `cli.options`,
`txdata`, `models.config`, `models.run_config`), and the library it runs inside the command.
`tests/test_cli_startup.py` holds every command to that.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

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
    # The CLI draws its own output; datasets' progress bars would only add noise. datasets
    # reads the variable when a command first imports it (a user's own setting wins); one that
    # runs `app` in a process holding datasets already (the tests) is told directly.
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()


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
    """The `txdata` console script."""
    # A command that builds data imports torch and datasets: a few hundred thousand objects
    # that live until the process ends. With Python's default thresholds the collector scans
    # them again and again as they come, and once more at exit, a large share of a short
    # command's time (`bench/cli_startup.py` runs `show` both ways). So collect less often, as
    # mypy does for the same reason, and freeze the heap at exit: its last scan would free
    # memory that the system takes back anyway, and finalize objects caught in reference
    # cycles, which txdata does not rely on (its files are closed in `with` blocks). atexit
    # handlers and output flushing still run.
    gc.set_threshold(200_000, 30, 30)
    atexit.register(gc.freeze)
    app()
