"""Errors become one red line on stderr and a non-zero exit code, never a traceback.

Library errors (`TxdataError`) exit with 1; so do the file-system and memory errors that no
check foresaw. typer's own usage errors (an unknown option, a value of the wrong type) exit
with 2, as click gives them, but on one line too instead of click's framed box.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click
from typer.core import TyperGroup

from txdata.errors import PeerFailure, TxdataError

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
            failure, message = error, str(error)
        except OSError as error:  # a safety net: each known case has its own check
            where = f"{error.filename}: " if error.filename else ""
            failure, message = error, f"{where}{error.strerror or error}"
        except MemoryError as error:
            failure, message = error, "out of memory: try a smaller --batch-size, --length or model"
        if speaks(failure):
            print_error(" ".join(message.split()))  # one line, whatever the message held
        raise typer.Exit(code=1)

    return wrapper  # type: ignore[return-value]


def speaks(error: BaseException) -> bool:
    """Whether this process reports `error`. Of the processes torchrun starts (RANK 0, 1, …),
    every one meets the same bad option or file, and process 0 alone says so; the others
    speak only when another process died, since that may have been process 0. A launcher's
    environment that makes no sense is reported by all."""
    rank, count = os.environ.get("RANK", ""), os.environ.get("WORLD_SIZE", "")
    other = rank.isdigit() and count.isdigit() and 0 < int(rank) < int(count)
    return not other or isinstance(error, PeerFailure)


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
