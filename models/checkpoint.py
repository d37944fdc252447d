"""Checkpoints: weights, optimizer and random state of one step, each checkpoint whole or absent.

    checkpoints/step-0000300/
        model.safetensors   weights (tied weights stored once), metadata {"step": "300"}
        state.safetensors   optimizer moments and random-number state, for an exact resume
        state.json          step, optimizer settings, and each file's size and SHA-256

A checkpoint is written into a hidden folder, flushed to disk, and renamed to its name in one
step, so a kill at any instant leaves either the whole checkpoint or none of it; the folder of
the step before stays until the new one is in place. Readers take the newest checkpoint whose
files match state.json. The run's config.json and tokenizer.json sit above, in the run
directory (models/run_directory.py). Nothing here is pickled: tensors go to safetensors, the
rest to JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file, save_model
from tokenizers import Tokenizer
from torch import nn

from models.run_config import RunConfig
from models.run_directory import CHECKPOINTS, run_format
from models.transformer import build_model
from txdata.errors import RunError, TxdataError
from txdata.files import atomic_write_text, fsync_directory, fsync_file
from txdata.tokenizer import save_tokenizer

REQUIRED = ("config.json", "tokenizer.json")
KEEP = 2  # checkpoints kept: the newest, and the one before it in case the newest is damaged
_NAME = re.compile(r"step-(\d{7,})")


@dataclass
class LoadedRun:
    directory: Path
    config: RunConfig
    tokenizer: Tokenizer
    model: nn.Module
    step: int
    checkpoint: Path  # the folder the weights came from


def write_run_files(directory: Path, config: RunConfig, tokenizer: Tokenizer) -> None:
    """The parts of a run that do not change from one checkpoint to the next."""
    atomic_write_text(directory / "config.json", json.dumps(asdict(config), indent=2))
    save_tokenizer(tokenizer, directory / "tokenizer.json")


def save_checkpoint(
    directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int
) -> Path:
    """Write `checkpoints/step-NNNNNNN` whole, then drop all but the newest `KEEP`."""
    root = directory / CHECKPOINTS
    root.mkdir(exist_ok=True)
    final = root / f"step-{step:07d}"
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        metadata = {"step": str(step)}
        save_model(model, str(staging / "model.safetensors"), metadata=metadata)
        save_file(_state_tensors(optimizer), str(staging / "state.safetensors"), metadata=metadata)
        record = {
            "step": step,
            "param_groups": optimizer.state_dict()["param_groups"],
            "files": {
                name: _describe(staging / name)
                for name in ("model.safetensors", "state.safetensors")
            },
        }
        (staging / "state.json").write_text(json.dumps(record, indent=2))
        for name in ("model.safetensors", "state.safetensors", "state.json"):
            fsync_file(staging / name)
        fsync_directory(staging)
        os.rename(staging, final)  # the one step that makes the checkpoint exist
        fsync_directory(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # nothing is left there after the rename
    for old in _numbered(root)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(directory: Path) -> Path:
    """The newest checkpoint folder whose files match its state.json; RunError if none."""
    if run_format(directory) == 1 and not (directory / CHECKPOINTS).is_dir():
        if (directory / "model.safetensors").is_file():
            return directory  # format 1: one checkpoint at the top, written file by file
        raise RunError(f"run {directory} is incomplete: model.safetensors missing")
    damaged = []
    for folder in reversed(_numbered(directory / CHECKPOINTS)):
        problem = _damage(folder)
        if problem is None:
            return folder
        damaged.append(f"{folder.name} {problem}")
    if damaged:
        raise RunError(f"run {directory} has no usable checkpoint: {'; '.join(damaged)}")
    raise RunError(
        f"run {directory} has no checkpoint yet: it stopped before the first one was written"
    )


def remove_leftovers(directory: Path, step: int) -> None:
    """Before a resume from `step`: drop half-written checkpoints and damaged newer ones, which
    training is about to write again, and temporary files that a kill left behind."""
    root = directory / CHECKPOINTS
    if root.is_dir():
        for folder in root.iterdir():
            name = _NAME.fullmatch(folder.name)
            if (folder.name.startswith(".step-") and folder.name.endswith(".tmp")) or (
                name and int(name[1]) > step
            ):
                shutil.rmtree(folder, ignore_errors=True)
    for temporary in directory.glob(".*.tmp"):
        temporary.unlink(missing_ok=True)


def load_run(directory: Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild a run's model and tokenizer from its newest whole checkpoint, checking that
    config, tokenizer and weights agree."""
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
    checkpoint = latest_checkpoint(directory)
    model = build_model(config.data.kind.architecture, config.model)
    step = _load_weights(model, checkpoint / "model.safetensors")
    return LoadedRun(directory, config, tokenizer, model.to(device), step, checkpoint)


def load_training_state(checkpoint: Path, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Restore the optimizer and random state saved with the weights of `step`, after checking
    that every moment has its parameter's shape (a mismatch can crash the fused optimizer)."""
    try:
        record = json.loads((checkpoint / "state.json").read_text())
        tensors = load_file(str(checkpoint / "state.safetensors"))
    except (OSError, ValueError) as error:
        raise RunError(
            f"cannot resume from {checkpoint}: its training state is unreadable ({error})"
        ) from None
    except Exception as error:  # safetensors raises its own error types for a corrupt file
        raise RunError(
            f"cannot resume from {checkpoint}: state.safetensors is damaged ({error})"
        ) from None
    if not isinstance(record, dict) or record.get("step") != step:
        found = record.get("step") if isinstance(record, dict) else record
        raise RunError(
            f"cannot resume from {checkpoint}: the weights are from step {step}, "
            f"the training state from step {found}"
        )
    if (
        not isinstance(tensors.get("rng.cpu"), torch.Tensor)
        or tensors["rng.cpu"].dtype != torch.uint8
    ):
        raise RunError(f"cannot resume from {checkpoint}: its random-number state is missing")
    moments = _moments(tensors, optimizer, checkpoint)
    groups = record.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(optimizer.param_groups):
        raise RunError(f"cannot resume from {checkpoint}: state.json lacks the optimizer settings")
    try:
        optimizer.load_state_dict({"state": moments, "param_groups": groups})
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(
            f"cannot resume from {checkpoint}: optimizer settings differ ({error})"
        ) from None
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _state_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {
        f"optimizer.{index}.{name}": value.detach().cpu().contiguous()
        for index, moments in optimizer.state_dict()["state"].items()
        for name, value in moments.items()
    }
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return tensors


def _moments(
    tensors: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer, checkpoint: Path
) -> dict[int, dict[str, torch.Tensor]]:
    """The saved optimizer moments, per parameter index, each checked against its parameter."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if not key.startswith("optimizer."):
            continue
        _, index, name = key.split(".", 2)
        if not index.isdigit() or int(index) >= len(parameters):
            raise RunError(f"cannot resume from {checkpoint}: {key} belongs to no parameter")
        expected = parameters[int(index)].shape
        if name != "step" and value.shape != expected:
            raise RunError(
                f"cannot resume from {checkpoint}: {key} has shape {list(value.shape)}, "
                f"its parameter {list(expected)} (the state is from another model)"
            )
        moments.setdefault(int(index), {})[name] = value
    return moments


def _numbered(root: Path) -> list[Path]:
    """The checkpoint folders `step-NNNNNNN` in `root`, oldest first."""
    if not root.is_dir():
        return []
    folders = [folder for folder in root.iterdir() if _NAME.fullmatch(folder.name)]
    return sorted((f for f in folders if f.is_dir()), key=lambda f: int(f.name[5:]))


def _describe(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _damage(folder: Path) -> str | None:
    """None when every file of the checkpoint is there with the size and hash it was saved
    with; otherwise what is wrong."""
    try:
        files = json.loads((folder / "state.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return "lacks a readable state.json"
    for name in ("model.safetensors", "state.safetensors"):
        path, expected = folder / name, files.get(name) if isinstance(files, dict) else None
        if not isinstance(expected, dict) or not path.is_file():
            return f"lacks {name}"
        if path.stat().st_size != expected.get("bytes") or _sha256(path) != expected.get("sha256"):
            return f"has a damaged {name} (its size or hash differs from state.json)"
    return None


def _read_config(path: Path) -> RunConfig:
    try:
        return RunConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as error:
        raise RunError(f"{path} is not valid JSON ({error})") from None
    except TxdataError as error:
        raise RunError(f"{path} holds an invalid setting: {error}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as error:
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
