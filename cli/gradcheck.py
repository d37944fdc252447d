"""`txdata gradcheck`: the hand-written backward passes held to autograd, as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.errors import reports_errors
from cli.render import console as make_console
from txdata.collate import check_seed
from txdata.errors import TxdataError

if TYPE_CHECKING:  # for the annotations only
    from models.backprop.gradcheck import Check


class GradientMismatch(TxdataError):
    """A hand-written gradient differs from autograd's by more than the tolerance."""


LAYER_INPUTS = (
    "x: 3 rows × 5 positions × width 8; attention: 2 heads, one row with 2 padded keys and one "
    "fully padded; Δ: the largest |hand − autograd|; relative: over the largest gradient"
)
MODEL_INPUTS = (
    "d_model 8, 2 heads, 2 layers, vocab 13; 3 rows of 6 ids (and 4 decoder ids) with padding "
    "and a fully padded row; label smoothing 0.1; dropout masks shared with the reference"
)


@reports_errors
def gradcheck(
    seed: Annotated[int, typer.Option(help="Seed of the weights and the random inputs.")] = 0,
) -> None:
    """Every layer's hand-written gradients (models/backprop) against autograd's, in float64."""
    # Imported here, not at the top: it imports torch, which `--help` does without.
    from models.backprop.gradcheck import TOLERANCE, layer_checks, model_checks

    check_seed(seed)
    console = make_console()
    failed = []
    for title, caption, checks in (
        ("layers, against PyTorch's modules", LAYER_INPUTS, layer_checks(seed)),
        ("whole models: the training loss and every parameter", MODEL_INPUTS, model_checks(seed)),
    ):
        console.print(table(title, checks))
        console.print(caption, style="dim")
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
    for name in ("check", "output Δ", "gradient Δ", "relative", "largest in"):
        grid.add_column(name, no_wrap=True, justify="left" if name[0] in "cl" else "right")
    for check in checks:
        colour = "green" if check.passed else "bold red"
        grid.add_row(
            check.name,
            f"{check.output_difference:.1e}",
            f"{check.difference:.1e}",
            f"[{colour}]{check.relative:.1e}[/]",
            check.worst,
        )
    return grid
