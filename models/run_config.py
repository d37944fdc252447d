"""What a training run is asked to do: the training settings, and the whole run's config.

>>> config = RunConfig(DataConfig("seq2seq"), ModelConfig())
>>> config.objective, config.train.batch_size
('seq2seq', 64)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from models.config import ModelConfig
from txdata.collate import check_seed
from txdata.config import DataConfig
from txdata.errors import ConfigError
from txdata.typed_json import from_json

TRAINING = "Training"


@dataclass
class TrainConfig:
    steps: int = field(
        default=300, metadata={"help": "Optimizer steps in all, a resumed run included."}
    )
    batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Examples per step (default: the objective's, 64 or 128 for mlm); under "
            "torchrun, per process."
        },
    )
    lr: float = field(
        default=2e-3,  # 3e-3 left some mlm seeds at 98-99 % after 300 steps
        metadata={"help": "Peak learning rate, reached after warmup."},
    )
    warmup: int = field(default=30, metadata={"help": "Steps of linear warmup from 0."})
    schedule: str = field(
        default="cosine",
        metadata={"help": "After warmup: cosine to 0, or inverse_sqrt (the paper's)."},
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay, on weight matrices only."}
    )
    clip: float = field(default=1.0, metadata={"help": "Gradient norm clipping."})
    label_smoothing: float = field(default=0.0, metadata={"help": "Label smoothing of the loss."})
    eval_every: int = field(default=50, metadata={"help": "Steps between evaluations."})
    eval_examples: int = field(default=256, metadata={"help": "Held-out examples per evaluation."})
    eval_length: int | None = field(
        default=None,
        metadata={"help": "Alternating: evaluate on windows of this length (extrapolation)."},
    )
    checkpoint_every: int = field(default=100, metadata={"help": "Steps between checkpoints."})
    seed: int = field(default=0, metadata={"help": "Seed of weights, batches and masks."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA when present), cpu or cuda."})
    backprop: str = field(
        default="autograd",
        metadata={
            "help": "autograd (loss.backward(), torch's AdamW) or manual (models/backprop: "
            "every gradient and the AdamW step written out)."
        },
    )

    def __post_init__(self) -> None:
        for name in ("steps", "eval_every", "eval_examples", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError("batch size must be at least 1")
        for name in ("lr", "weight_decay", "clip", "label_smoothing"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name.replace('_', ' ')} must be a finite number")
        if self.lr <= 0 or self.warmup < 0 or self.weight_decay < 0 or self.clip <= 0:
            raise ConfigError("lr and clip must be positive; warmup and weight decay 0 or more")
        check_seed(self.seed)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.eval_length is not None and self.eval_length < 3:
            raise ConfigError(f"eval length must be at least 3, got {self.eval_length}")
        if self.backprop not in ("autograd", "manual"):
            raise ConfigError(f"backprop must be autograd or manual, got {self.backprop!r}")
        if self.schedule not in ("cosine", "inverse_sqrt"):
            raise ConfigError(f"schedule must be cosine or inverse_sqrt, got {self.schedule!r}")


@dataclass
class RunConfig:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    command: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Here, before any data is prepared or folder made: `--memory pooled` for mlm fails first.
        self.model.check_architecture(self.data.kind.architecture)
        if self.train.batch_size is None:  # the objective's default, written down in the run
            self.train = replace(self.train, batch_size=self.data.kind.batch_size)

    @property
    def objective(self) -> str:
        return self.data.objective

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        """The config of a run's config.json, each value checked against its declared type."""
        if isinstance(raw, dict) and "mode" in raw:
            raw = _from_format_1(raw)
        return from_json(cls, raw)


def _from_format_1(raw: dict) -> dict:
    """A config.json written before objectives had options of their own: `mode` at the top,
    mlm's `masking` and seq2seq's `leaky` in `data`."""
    raw = {key: value for key, value in raw.items() if key != "mode"}
    data = dict(raw.get("data") or {})
    objective = data.pop("mode", None)
    masking, leaky = data.pop("masking", None), data.pop("leaky", False)
    data["objective"] = objective
    data["options"] = masking if objective == "mlm" else {"labels_as_decoder_input": leaky}
    return {**raw, "data": data}
