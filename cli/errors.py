"""Library errors become one red line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from txdata.errors import TxdataError

Command = TypeVar("Command", bound=Callable)
stderr = Console(stderr=True, highlight=False)


def reports_errors(command: Command) -> Command:
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TxdataError as error:
            stderr.print(f"[bold red]error:[/] {error}", markup=True, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]
