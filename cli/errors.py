"""Errors become one red line on stderr and a non-zero exit code, never a traceback.

Library errors (`TxdataError`) exit with 1; so do the file-system and memory errors that no
check foresaw. typer's own usage errors (an unknown option, a value of the wrong type) exit
with 2, as click gives them, but on one line too instead of click's framed box.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click
from typer.core import TyperGroup

from txdata.errors import TxdataError

Command = TypeVar("Command", bound=Callable)
stderr = Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)


def reports_errors(command: Command) -> Command:
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TxdataError as error:
            message = str(error)
        except OSError as error:  # a safety net: each known case has its own check
            where = f"{error.filename}: " if error.filename else ""
            message = f"{where}{error.strerror or error}"
        except MemoryError:
            message = "out of memory: try a smaller --batch-size, --length or model"
        print_error(" ".join(message.split()))  # one line, whatever the message held
        raise typer.Exit(code=1)

    return wrapper  # type: ignore[return-value]


class OneLineErrors(TyperGroup):
    """The app's command group: usage errors as one line, exit codes as click gives them."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as error:  # plain `txdata`: the help, not an error
            typer.echo(error.ctx.get_help() if error.ctx else error.format_message())
            sys.exit(0)
        except ClickException as error:
            print_error(" ".join(error.format_message().split()))
            sys.exit(error.exit_code)
        except Abort:
            print_error("aborted")
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)
