"""Run directories: everything needed to rebuild, resume or use a trained model.

    config.json         RunConfig: mode, data, model and training settings, the command line
    tokenizer.json      the tokenizer the data was built with
    model.safetensors   weights (tied weights stored once), metadata {"step": "300"}
    state.safetensors   optimizer moments and random-number state, for an exact resume
    state.json          step and optimizer settings; written last, so it marks a whole checkpoint
    metrics.jsonl       one line per evaluation

Nothing here is pickled: tensors go to safetensors, the rest to JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file, save_model
from tokenizers import Tokenizer
from torch import nn

from models.transformer import ModelConfig, build_model
from txdata.config import DataConfig
from txdata.errors import ConfigError, RunError, TxdataError
from txdata.files import atomic_path, atomic_write_text
from txdata.objectives.mlm import MaskingConfig
from txdata.sources import SourceConfig
from txdata.tokenizer import save_tokenizer

REQUIRED = ("config.json", "tokenizer.json", "model.safetensors")


DEFAULT_BATCH_SIZE = {"seq2seq": 64, "mlm": 128}
"""Rows per step, chosen so that both modes reach 100 % on the alternating sequence within the
default 300 steps. mlm takes twice the rows because only 15 % of its tokens carry a loss: 128
rows give it about 190 labelled tokens a step, against about 700 in seq2seq's 64. At 64 rows
mlm needed 225 to 400 steps (5 seeds); at 128 rows and lr 2e-3 it reached 100 % by step 300 on
all of 16 seeds (8 on one thread, 8 on two)."""


@dataclass
class TrainConfig:
    steps: int = 300  # optimizer steps in all, a resumed run included
    batch_size: int = 64  # DEFAULT_BATCH_SIZE[mode] from the CLI; 32 can stall for 300+ steps
    lr: float = 2e-3  # peak learning rate, reached after warmup; 3e-3 left mlm seeds at 98-99 %
    warmup: int = 30  # steps of linear warmup from 0
    schedule: str = "cosine"  # after warmup: cosine to 0, or inverse_sqrt (the paper's)
    weight_decay: float = 0.01  # AdamW, on weight matrices only
    clip: float = 1.0  # gradient norm clipping
    label_smoothing: float = 0.0
    eval_every: int = 50
    eval_examples: int = 256  # held-out examples per evaluation
    eval_length: int | None = None  # alternating: evaluate on windows of another length
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "auto"  # auto: CUDA when present, else CPU

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "eval_examples", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1")
        if self.lr <= 0 or self.warmup < 0 or self.seed < 0:
            raise ConfigError("lr must be positive; warmup and seed must be 0 or more")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.eval_length is not None and self.eval_length < 3:
            raise ConfigError(f"eval length must be at least 3, got {self.eval_length}")
        if self.schedule not in ("cosine", "inverse_sqrt"):
            raise ConfigError(f"schedule must be cosine or inverse_sqrt, got {self.schedule!r}")


@dataclass
class RunConfig:
    mode: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    command: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        data = dict(raw["data"])
        data["source"] = SourceConfig(**data["source"])
        data["masking"] = MaskingConfig(**data["masking"])
        return cls(
            mode=raw["mode"],
            data=DataConfig(**data),
            model=ModelConfig(**raw["model"]),
            train=TrainConfig(**raw["train"]),
            command=list(raw.get("command", [])),
        )


@dataclass
class LoadedRun:
    directory: Path
    config: RunConfig
    tokenizer: Tokenizer
    model: nn.Module
    step: int


def save_checkpoint(
    directory: Path,
    config: RunConfig,
    tokenizer: Tokenizer,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
) -> None:
    """Write a whole checkpoint, each file atomically, state.json last."""
    atomic_write_text(directory / "config.json", json.dumps(asdict(config), indent=2))
    save_tokenizer(tokenizer, directory / "tokenizer.json")
    metadata = {"step": str(step)}
    with atomic_path(directory / "model.safetensors") as temporary:
        save_model(model, str(temporary), metadata=metadata)
    state = optimizer.state_dict()
    tensors = {
        f"optimizer.{index}.{name}": value.detach().cpu().contiguous()
        for index, moments in state["state"].items()
        for name, value in moments.items()
    }
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    with atomic_path(directory / "state.safetensors") as temporary:
        save_file(tensors, str(temporary), metadata=metadata)
    record = {"step": step, "param_groups": state["param_groups"]}
    atomic_write_text(directory / "state.json", json.dumps(record, indent=2))


def load_run(directory: Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild a run's model and tokenizer, checking that config, tokenizer and weights agree."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RunError(f"no run directory at {directory}")
    missing = [name for name in REQUIRED if not (directory / name).is_file()]
    if missing:
        raise RunError(f"run {directory} is incomplete: {', '.join(missing)} missing")
    config = _read_config(directory / "config.json")
    try:
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    except Exception as error:  # tokenizers raises plain Exception on a bad file
        raise RunError(f"{directory}/tokenizer.json is not a valid tokenizer ({error})") from None
    if tokenizer.get_vocab_size() != config.model.vocab_size:
        raise RunError(
            f"{directory}/tokenizer.json has {tokenizer.get_vocab_size()} tokens, "
            f"but the model was built for {config.model.vocab_size}"
        )
    model = build_model(config.mode, config.model)
    step = _load_weights(model, directory / "model.safetensors")
    return LoadedRun(directory, config, tokenizer, model.to(device), step)


def load_training_state(directory: Path, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Restore the optimizer and random state saved with the weights of `step`."""
    try:
        record = json.loads((directory / "state.json").read_text())
        tensors = load_file(str(directory / "state.safetensors"))
    except (OSError, ValueError) as error:
        raise RunError(
            f"cannot resume {directory}: its training state is unreadable ({error})"
        ) from None
    if record.get("step") != step:
        raise RunError(
            f"cannot resume {directory}: the weights are from step {step}, "
            f"the training state from step {record.get('step')}"
        )
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": moments, "param_groups": record["param_groups"]})
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _read_config(path: Path) -> RunConfig:
    try:
        return RunConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as error:
        raise RunError(f"{path} is not valid JSON ({error})") from None
    except TxdataError as error:
        raise RunError(f"{path} holds an invalid setting: {error}") from None
    except (KeyError, TypeError) as error:
        raise RunError(f"{path} is not a txdata run config ({error})") from None


def _load_weights(model: nn.Module, path: Path) -> int:
    """Load weights after checking every name and shape; return the step they were saved at."""
    expected = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as weights:
            found = {name: tuple(weights.get_slice(name).get_shape()) for name in weights.keys()}  # noqa: SIM118
            step = int((weights.metadata() or {}).get("step", 0))
            tensors = {name: weights.get_tensor(name) for name in found}
    except Exception as error:  # safetensors raises its own error types for a corrupt file
        raise RunError(f"{path} is not a readable safetensors file ({error})") from None
    for name, shape in found.items():
        if expected.get(name) != shape:
            raise RunError(
                f"{path}: weight {name} has shape {list(shape)}, "
                f"the config expects {list(expected.get(name, ()))}"
            )
    # Tied weights are stored once; every other weight must be there.
    tied = {name for name in expected if name not in found}
    missing = {name for name in tied if not _is_tied(model, name, found)}
    if missing:
        raise RunError(f"{path} lacks weights: {', '.join(sorted(missing))}")
    model.load_state_dict(tensors, strict=False)
    return step


def _is_tied(model: nn.Module, name: str, found: dict) -> bool:
    state = model.state_dict()
    pointer = state[name].data_ptr()
    return any(state[other].data_ptr() == pointer for other in found if other in state)
