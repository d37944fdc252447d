"""`txdata train`: train the core on one objective and report what it learned."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli import options as o
from cli.errors import reports_errors
from cli.figures import plot_attention, plot_metrics
from cli.progress import TrainingProgress
from cli.render import console as make_console
from models.checkpoint import DEFAULT_BATCH_SIZE, RunConfig, TrainConfig, load_run
from models.run import RunResult, train_run
from models.transformer import ModelConfig
from txdata.errors import RunError

MODEL = "Model"
TRAINING = "Training"


@reports_errors
@o.with_data_options
def train(
    ctx: typer.Context,
    mode: Annotated[
        str | None, typer.Option(help="mlm or seq2seq (default mlm; a resumed run keeps its own).")
    ] = None,
    d_model: Annotated[
        int, typer.Option(help="Width of token vectors.", rich_help_panel=MODEL)
    ] = 64,
    heads: Annotated[int, typer.Option(help="Attention heads.", rich_help_panel=MODEL)] = 4,
    layers: Annotated[int, typer.Option(help="Blocks per stack.", rich_help_panel=MODEL)] = 2,
    d_ff: Annotated[int, typer.Option(help="Feed-forward width.", rich_help_panel=MODEL)] = 256,
    dropout: Annotated[float, typer.Option(help="Dropout rate.", rich_help_panel=MODEL)] = 0.0,
    positional: Annotated[
        str, typer.Option(help="sinusoidal, learned or none.", rich_help_panel=MODEL)
    ] = "sinusoidal",
    activation: Annotated[str, typer.Option(help="gelu or relu.", rich_help_panel=MODEL)] = "gelu",
    norm: Annotated[
        str, typer.Option(help="pre or post LayerNorm.", rich_help_panel=MODEL)
    ] = "pre",
    steps: Annotated[
        int | None,
        typer.Option(
            help="Optimizer steps in all (default 300; a resumed run keeps its own).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Examples per step (default 64 for seq2seq, 128 for mlm).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    lr: Annotated[float, typer.Option(help="Peak learning rate.", rich_help_panel=TRAINING)] = 2e-3,
    warmup: Annotated[
        int, typer.Option(help="Steps of linear warmup.", rich_help_panel=TRAINING)
    ] = 30,
    schedule: Annotated[
        str, typer.Option(help="cosine or inverse_sqrt decay.", rich_help_panel=TRAINING)
    ] = "cosine",
    eval_length: Annotated[
        int | None,
        typer.Option(
            help="Alternating: evaluate on windows of this length (positional extrapolation).",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    label_smoothing: Annotated[
        float, typer.Option(help="Label smoothing of the loss.", rich_help_panel=TRAINING)
    ] = 0.0,
    eval_every: Annotated[
        int, typer.Option(help="Steps between evaluations.", rich_help_panel=TRAINING)
    ] = 50,
    seed: Annotated[
        int, typer.Option(help="Seed of weights, batches and masks.", rich_help_panel=TRAINING)
    ] = 0,
    device: Annotated[
        str, typer.Option(help="auto, cpu or cuda.", rich_help_panel=TRAINING)
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/MODE-TIME).")
    ] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out.")] = False,
    plots: Annotated[
        bool, typer.Option(help="Draw curves.png and attention.png into the run at the end.")
    ] = True,
) -> None:
    """Train the transformer core on one objective, then show what it learned."""
    if resume:
        config = load_run(resume).config
        if mode is not None and mode != config.mode:
            raise RunError(f"--resume {resume} is a {config.mode} run, not {mode}")
        steps = config.train.steps if steps is None else steps
        config = replace(config, train=replace(config.train, steps=steps, device=device))
        directory = resume
    else:
        mode = mode or "mlm"
        data = o.data_config({**ctx.params, "mode": mode})
        model = ModelConfig(
            d_model=d_model,
            heads=heads,
            layers=layers,
            d_ff=d_ff,
            dropout=dropout,
            positional=positional,
            activation=activation,
            norm=norm,
            max_len=max(512, data.length),
        )
        training = TrainConfig(
            steps=TrainConfig.steps if steps is None else steps,
            batch_size=DEFAULT_BATCH_SIZE[mode] if batch_size is None else batch_size,
            lr=lr,
            warmup=warmup,
            schedule=schedule,
            eval_length=eval_length,
            label_smoothing=label_smoothing,
            eval_every=eval_every,
            seed=seed,
            device=device,
        )
        config = RunConfig(mode, data, model, training, command=["txdata", *sys.argv[1:]])
        directory = out or Path("runs") / f"{mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    console = make_console()
    started = time.perf_counter()
    with TrainingProgress(console) as progress:
        result = train_run(
            config, directory, overwrite=overwrite, resume=bool(resume), callbacks=progress
        )
    report(console, config.mode, result, time.perf_counter() - started)
    if plots and result.metrics and result.samples:
        curves = plot_metrics(directory, directory / "curves.png")
        maps = plot_attention(directory, result.samples[0]["input"], directory / "attention.png")
        console.print(f"plots: {curves} and {maps}", soft_wrap=True)
    if result.interrupted:
        raise typer.Exit(code=130)


def report(console: Console, mode: str, result: RunResult, seconds: float) -> None:
    table = Table(title="held-out predictions", title_justify="left", box=None, pad_edge=False)
    if mode == "seq2seq":
        for column in ("input", "target", "prediction", ""):
            table.add_column(column)
        for sample in result.samples:
            mark = "[green]✓[/]" if sample["correct"] else "[red]✗[/]"
            table.add_row(sample["input"], sample["target"], sample["prediction"], mark)
    else:
        for column in ("around the <chosen> token", "target", "top 3", ""):
            table.add_column(column)
        for sample in result.samples[:8]:
            top = "  ".join(f"{token} {p:.2f}" for token, p in sample["top"])
            mark = "[green]✓[/]" if sample["correct"] else "[red]✗[/]"
            table.add_row(sample["context"], sample["target"], top, mark)
    console.print(table)
    metrics = result.metrics
    headline = f"accuracy {metrics.get('accuracy', 0):.1%} on labelled tokens"
    if "exact_match" in metrics:
        headline += f", exact match {metrics['exact_match']:.1%} decoding freely"
    if "confidence" in metrics:
        headline += f"; mean confidence {metrics['confidence']:.1%}"
    if "unigram_accuracy" in metrics:
        headline += f" (always guessing the commonest token: {metrics['unigram_accuracy']:.1%})"
    console.print(
        f"[bold]{mode}[/], step {result.step}, {seconds:.1f} s: {headline}", soft_wrap=True
    )
    console.print(f"held out: {result.heldout}", soft_wrap=True)
    state = "interrupted; resume with --resume" if result.interrupted else "saved"
    console.print(f"run {state}: {result.directory}", soft_wrap=True)
