"""Train the same core on the same source as seq2seq and as mlm, with the same budget.

>>> rows = compare_modes(DataConfig(), ModelConfig(), TrainConfig(steps=300), Path("runs/c"))
>>> [(row.mode, row.loss_tokens) for row in rows]
[('seq2seq', 211200), ('mlm', 28902)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from models.checkpoint import RunConfig, TrainConfig
from models.run import train_run
from models.train import Callbacks
from models.transformer import ModelConfig
from txdata.config import DataConfig

MODES = ("seq2seq", "mlm")
TASK_METRIC = {"seq2seq": "exact_match", "mlm": "accuracy"}


@dataclass
class ModeSummary:
    mode: str
    tokens_read: int  # real tokens the model read while training, encoder and decoder
    loss_tokens: int  # of those, the ones whose prediction was scored
    final_loss: float  # held-out loss at the end
    metric_name: str  # seq2seq: free-running exact match; mlm: masked-token accuracy
    metric: float
    seconds: float  # training steps only
    directory: Path

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_read / max(self.seconds, 1e-9)

    @property
    def loss_share(self) -> float:
        return self.loss_tokens / max(self.tokens_read, 1)


def compare_modes(
    data: DataConfig,
    model: ModelConfig,
    train: TrainConfig,
    directory: Path,
    overwrite: bool = False,
    callbacks: Callable[[str], Callbacks] | None = None,
    command: list[str] | None = None,
) -> list[ModeSummary]:
    """One run per mode in `directory/seq2seq` and `directory/mlm`; a summary of each."""
    summaries = []
    for mode in MODES:
        config = RunConfig(mode, replace(data, mode=mode), model, train, command or [])
        result = train_run(
            config, directory / mode, overwrite, callbacks=callbacks(mode) if callbacks else None
        )
        summaries.append(
            ModeSummary(
                mode=mode,
                tokens_read=result.loop.tokens_read,
                loss_tokens=result.loop.loss_tokens,
                final_loss=result.metrics["loss"],
                metric_name=TASK_METRIC[mode],
                metric=result.metrics[TASK_METRIC[mode]],
                seconds=result.loop.seconds,
                directory=result.directory,
            )
        )
    return summaries


def reading(summaries: list[ModeSummary]) -> str:
    """One sentence on what the table shows."""
    by_mode = {summary.mode: summary for summary in summaries}
    s2s, mlm = by_mode["seq2seq"], by_mode["mlm"]
    ratio = s2s.loss_tokens / max(mlm.loss_tokens, 1)
    return (
        f"With the same steps, seq2seq scored {s2s.loss_share:.0%} of the tokens it read and mlm "
        f"{mlm.loss_share:.0%}: seq2seq drew {ratio:.1f}× as many training signals from its "
        f"batches; mlm pays for seeing both sides of every token with fewer of them."
    )
