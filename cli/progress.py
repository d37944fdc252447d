"""Training progress for people: a rich progress bar, and an evaluation table as it goes."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from models.train import Callbacks

METRICS = (
    ("loss", "{:.4f}"),
    ("perplexity", "{:.3f}"),
    ("accuracy", "{:.1%}"),
    ("confidence", "{:.1%}"),
)
OPTIONAL = (
    ("exact_match", "exact match", "{:.1%}"),
    ("unigram_accuracy", "unigram", "{:.1%}"),
    ("next_sentence_loss", "pair loss", "{:.4f}"),
    ("next_sentence_accuracy", "pair acc", "{:.1%}"),
)


class TrainingProgress(Callbacks):
    def __init__(self, console: Console, label: str = "training") -> None:
        self.console = console
        self.label = label  # names the next bar; `txdata compare` sets it to each mode
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.4f}{task.fields[parts]}  lr {task.fields[lr]:.2e}"
            ),
            TextColumn("{task.fields[speed]:,.0f} tok/s"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = None
        self.header_shown = False

    def __enter__(self) -> TrainingProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def on_start(self, step: int, steps: int) -> None:
        self.header_shown = False
        self.task = self.progress.add_task(
            self.label, total=steps, completed=step, loss=0, parts="", lr=0, speed=0
        )

    def on_losses(self, step: int, losses: dict[str, float]) -> None:
        parts = " + ".join(
            f"{name.replace('_', ' ')} {value:.3f}" for name, value in losses.items()
        )
        self.progress.update(self.task, parts=f" ({parts})")

    def on_step(self, step: int, loss: float, lr: float, tokens_per_second: float) -> None:
        self.progress.update(self.task, completed=step, loss=loss, lr=lr, speed=tokens_per_second)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        columns = [(name, name, fmt) for name, fmt in METRICS] + [
            column for column in OPTIONAL if column[0] in metrics
        ]
        if not self.header_shown:
            header = f"{'step':>6}" + "".join(f"{title:>13}" for _, title, _ in columns)
            title = f"held-out evaluation ({self.label})" if self.label != "training" else ""
            self.progress.console.print(f"[bold]{title or 'held-out evaluation'}[/]\n{header}")
            self.header_shown = True
        row = f"{step:>6}" + "".join(f"{fmt.format(metrics[key]):>13}" for key, _, fmt in columns)
        self.progress.console.print(row, highlight=False)
