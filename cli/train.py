"""`txdata train`: train the core on one objective and report what it learned."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import options as o
from cli.errors import reports_errors
from cli.render import console as make_console
from models.config import ModelConfig
from models.run_config import RunConfig, TrainConfig
from txdata.errors import RunError

if TYPE_CHECKING:  # for the annotations only
    from models.run import RunResult


@reports_errors
@o.with_options(o.DATA_OPTIONS, o.MODEL_OPTIONS, o.TRAINING_OPTIONS)
def train(
    ctx: typer.Context,
    mode: o.Mode = o.DEFAULT_OBJECTIVE,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/MODE-TIME).")
    ] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already at --out.")] = False,
    plots: Annotated[
        bool, typer.Option(help="Draw curves.png and attention.png into the run at the end.")
    ] = True,
) -> None:
    """Train the transformer core on one objective, then show what it learned.

    Under torchrun, --batch-size is each process's: the step's batch is it × processes.
    """
    # Imported here, not at the top: they import torch and matplotlib, which
    # `txdata train --help` and the other commands do without.
    from cli.figures import plot_attention, plot_metrics
    from cli.progress import TrainingProgress
    from models.checkpoint import load_run
    from models.distributed import Processes
    from models.run import train_run

    params, mode = ctx.params, mode.value
    processes = Processes.from_environment()
    if resume:
        config = load_run(resume).config
        if o.given(ctx, "mode") and mode != config.objective:
            raise RunError(f"--resume {resume} is a {config.objective} run, not {mode}")
        # A resumed run keeps its settings; only its length and device may change.
        steps = params["steps"] if o.given(ctx, "steps") else config.train.steps
        train_settings = replace(config.train, steps=steps, device=params["device"])
        config = replace(config, train=train_settings)
        directory = resume
    else:
        data = o.data_config(params, mode)
        model = o.fields_from(ModelConfig, params, max_len=max(512, data.length))
        config = RunConfig(
            data, model, o.fields_from(TrainConfig, params), command=["txdata", *sys.argv[1:]]
        )
        whole = config.train.batch_size * processes.count  # what one process would read
        config = replace(config, train=replace(config.train, batch_size=whole))
        directory = out or Path("runs") / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not processes.main:  # process 0 alone prints and draws
        result = train_run(config, directory, overwrite=overwrite, resume=bool(resume))
        if result.interrupted:
            raise typer.Exit(code=130)
        return
    console = make_console()
    started = time.perf_counter()
    with TrainingProgress(console) as progress:
        result = train_run(
            config, directory, overwrite=overwrite, resume=bool(resume), callbacks=progress
        )
    report(console, config, result, time.perf_counter() - started)
    if plots and result.metrics and result.samples:
        curves = plot_metrics(directory, directory / "curves.png")
        maps = plot_attention(directory, result.samples[0]["input"], directory / "attention.png")
        console.print(f"plots: {curves} and {maps}", soft_wrap=True)
    if result.interrupted:
        raise typer.Exit(code=130)


def report(console: Console, config: RunConfig, result: RunResult, seconds: float) -> None:
    kind = config.data.kind
    table = Table(title="held-out predictions", title_justify="left", box=None, pad_edge=False)
    if kind.architecture == "encoder":
        for column in ("around the <chosen> token", "target", "top 3", ""):
            table.add_column(column)
        for sample in result.samples[:8]:
            top = "  ".join(f"{token} {p:.2f}" for token, p in sample["top"])
            table.add_row(sample["context"], sample["target"], top, _mark(sample))
    else:
        reads = "prompt" if kind.architecture == "decoder" else "input"
        for column in (reads, "target", "prediction", ""):
            table.add_column(column)
        for sample in result.samples:
            table.add_row(sample["input"], sample["target"], sample["prediction"], _mark(sample))
    console.print(table)
    if result.pairs:
        console.print(pair_table(result.pairs))
    metrics = result.metrics
    headline = f"accuracy {metrics.get('accuracy', 0):.1%} on labelled tokens"
    if kind.metric != "accuracy" and kind.metric in metrics:
        headline += ", " + kind.metric_label.format(f"{metrics[kind.metric]:.1%}")
    if "next_sentence_ceiling" in metrics:
        why = "pairs with the same tokens but both labels cannot all be right"
        if config.data.source.source == "alternating":
            why = "a random B from a window of A's phase continues A all the same"
        headline += f", and {metrics['next_sentence_ceiling']:.1%} at most on these pairs ({why})"
    if "confidence" in metrics:
        headline += f"; mean confidence {metrics['confidence']:.1%}"
    if "unigram_accuracy" in metrics:
        headline += f" (always guessing the commonest token: {metrics['unigram_accuracy']:.1%})"
    console.print(
        f"[bold]{config.objective}[/], step {result.step}, {seconds:.1f} s: {headline}",
        soft_wrap=True,
    )
    console.print(f"held out: {result.heldout}", soft_wrap=True)
    state = "interrupted; resume with --resume" if result.interrupted else "saved"
    console.print(f"run {state}: {result.directory}", soft_wrap=True)


def pair_table(pairs: list[dict]) -> Table:
    """Held-out sentence pairs, unmasked, with the label and the model's P(B follows A)."""
    table = Table(title="held-out pairs", title_justify="left", box=None, pad_edge=False)
    for column in ("A", "B", "label", "P(B follows A)", ""):
        table.add_column(column)
    for pair in pairs:
        label = "0 follows" if pair["label"] == 0 else "1 does not"
        table.add_row(pair["first"], pair["second"], label, f"{pair['follows']:.2f}", _mark(pair))
    return table


def _mark(sample: dict) -> str:
    return "[green]✓[/]" if sample["correct"] else "[red]✗[/]"
