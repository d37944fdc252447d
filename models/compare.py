"""Train the same core on the same source under several objectives, with the same budget.

Example (trains two models, about 30 s)::

    budget = TrainConfig(batch_size=64)
    rows = compare_objectives(DataConfig(), ModelConfig(), budget, Path("runs/c"))
    [(row.objective, row.loss_tokens) for row in rows]
    # [('seq2seq', 211200), ('mlm', 28902)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from models.run import train_run
from models.run_config import RunConfig, TrainConfig
from models.train import Callbacks
from models.transformer import ModelConfig
from txdata.config import DataConfig
from txdata.objectives.registry import ALIASES


@dataclass
class ObjectiveSummary:
    objective: str
    tokens_read: int  # real tokens the model read while training, encoder and decoder
    loss_tokens: int  # of those, the ones whose prediction was scored
    final_loss: float  # held-out loss at the end
    metric_name: str  # the objective's own held-out metric
    metric_label: str  # what it means, in words
    metric: float
    seconds: float  # training steps only
    directory: Path

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_read / max(self.seconds, 1e-9)

    @property
    def loss_share(self) -> float:
        return self.loss_tokens / max(self.tokens_read, 1)


def compare_objectives(
    data: DataConfig,
    model: ModelConfig,
    train: TrainConfig,
    directory: Path,
    objectives: list[str] | None = None,
    overwrite: bool = False,
    callbacks: Callable[[str], Callbacks] | None = None,
    command: list[str] | None = None,
) -> list[ObjectiveSummary]:
    """One run per objective in `directory/NAME` (default seq2seq and mlm); a summary of each."""
    summaries = []
    for name in objectives or ALIASES["both"]:
        config = RunConfig(replace(data, objective=name, options=None), model, train, command or [])
        kind = config.data.kind
        result = train_run(
            config, directory / name, overwrite, callbacks=callbacks(name) if callbacks else None
        )
        summaries.append(
            ObjectiveSummary(
                objective=name,
                tokens_read=result.loop.tokens_read,
                loss_tokens=result.loop.loss_tokens,
                final_loss=result.metrics["loss"],
                metric_name=kind.metric,
                metric_label=kind.metric_label,
                metric=result.metrics[kind.metric],
                seconds=result.loop.seconds,
                directory=result.directory,
            )
        )
    return summaries


def what_the_table_shows(summaries: list[ObjectiveSummary]) -> str:
    """One sentence on the table: who drew the most training signals from what it read."""
    ranked = sorted(summaries, key=lambda summary: summary.loss_share, reverse=True)
    shares = ", ".join(f"{s.objective} {s.loss_share:.0%}" for s in ranked)
    most, least = ranked[0], ranked[-1]
    ratio = most.loss_tokens / max(least.loss_tokens, 1)
    return (
        f"With the same steps, the share of tokens read that carried a loss was {shares}: "
        f"{most.objective} drew {ratio:.1f}× as many training signals as {least.objective}. "
        "An encoder pays for seeing both sides of every token with fewer of them."
    )
