"""`txdata export`: an objective's examples on disk, for any training job to load."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cli import options as o
from cli.errors import reports_errors


class Storage(str, Enum):
    arrow = "arrow"
    parquet = "parquet"


@reports_errors
@o.with_data_options
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder to write; it must be absent or empty.")],
    mode: o.Mode = o.DEFAULT_OBJECTIVE,
    format: Annotated[
        Storage, typer.Option(help="arrow (datasets' save_to_disk) or parquet shards.")
    ] = Storage.arrow,
    epochs: Annotated[
        int, typer.Option(help="Also write this many epochs of masked batches (static masking).")
    ] = 0,
    batch_size: Annotated[
        int | None, typer.Option(help="Rows per batch of --epochs (default: the objective's).")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the --epochs batches' order and masks (0 is a seed).")
    ] = 0,
    num_proc: Annotated[
        int | None, typer.Option(help="Processes that build the examples (the same result).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an export already at --out.")] = False,
) -> None:
    """Write an objective's examples as a datasets dataset, with the tokenizer, the data config
    and a README beside them; `--epochs N` adds N epochs of collated batches. `--source` a
    folder that export wrote reads it back in `show` and `train`."""
    # Imported here: it loads torch and datasets, which `txdata --help` should not wait for.
    from txdata.export import export as write_export

    exported = write_export(
        o.data_config(ctx.params, mode.value),
        out,
        format=format.value,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        num_proc=num_proc,
        overwrite=overwrite,
    )
    typer.echo(
        f"exported {exported.rows} {exported.objective} examples ({exported.format}) to {out}"
    )
    if exported.epochs:
        typer.echo(
            f"and {exported.epochs} epochs of {exported.batches} batches of up to "
            f"{exported.batch_size} rows (seed {seed}) in {out / 'epochs'}"
        )
    typer.echo(f"what each column means, and how to load them: {out / 'README.md'}")
