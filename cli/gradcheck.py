"""`txdata gradcheck`: the hand-written backward passes held to autograd, as a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.errors import reports_errors
from cli.render import console as make_console
from models.backprop.gradcheck import TOLERANCE, Check, layer_checks, model_checks
from txdata.collate import check_seed
from txdata.errors import TxdataError


class GradientMismatch(TxdataError):
    """A hand-written gradient differs from autograd's by more than the tolerance."""


@reports_errors
def gradcheck(
    seed: Annotated[int, typer.Option(help="Seed of the weights and the random inputs.")] = 0,
) -> None:
    """Every layer's hand-written gradients (models/backprop) against autograd's, in float64."""
    check_seed(seed)
    console = make_console()
    failed = []
    for title, checks in (
        ("layers, against PyTorch's modules", layer_checks(seed)),
        ("whole models: the training loss and every parameter", model_checks(seed)),
    ):
        console.print(table(title, checks))
        failed += [check.name for check in checks if not check.passed]
    if failed:
        raise GradientMismatch(f"beyond {TOLERANCE:g}: {', '.join(failed)}")
    console.print(
        f"every gradient within {TOLERANCE:g} of autograd's (relative), float64, seed {seed}"
    )


def table(title: str, checks: list[Check]) -> Table:
    """One row per check: the outputs' and the gradients' largest differences, the relative
    error, and the gradient where the largest difference is."""
    grid = Table(title=title, title_justify="left")
    grid.add_column("check")
    grid.add_column("inputs")
    grid.add_column("output Δ", justify="right")
    grid.add_column("gradient Δ", justify="right")
    grid.add_column("relative", justify="right")
    grid.add_column("largest in", overflow="fold")
    for check in checks:
        colour = "green" if check.passed else "bold red"
        grid.add_row(
            check.name,
            check.shapes,
            f"{check.output_difference:.1e}",
            f"{check.difference:.1e}",
            f"[{colour}]{check.relative:.1e}[/]",
            check.worst,
        )
    return grid
