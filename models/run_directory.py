"""What a run directory is, and how a new run takes its place without losing anyone's files.

    txdata-run.json     marker {"format": 2}: the folder is a txdata run
    config.json         RunConfig: objective, data, model and training settings, the command line
    tokenizer.json      the tokenizer the data was built with
    checkpoints/        one folder per checkpoint, each whole or absent (models/checkpoint.py)
    metrics.jsonl       one line per evaluation
    curves.png, attention.png

txdata deletes only what it wrote. `--overwrite` replaces a folder only when it is a txdata run
holding nothing but the files above, and only once the new run exists: the new run trains in
a hidden folder beside the old one, and the two swap names in one step at the end.

Example::

    with new_run(Path("runs/demo"), overwrite=True) as folder:
        train_into(folder)  # runs/demo is the old run until this block ends
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from txdata.errors import RunError
from txdata.files import atomic_write_text, exchange
from txdata.staged_folder import (
    STAGING,
    check_not_protected,
    listing,
    remove_staging_leftovers,
)

MARKER = "txdata-run.json"
FORMAT = 2  # 1: weights and state at the top of the folder (before checkpoints/)
CHECKPOINTS = "checkpoints"
WRITTEN = {
    MARKER,
    "config.json",
    "tokenizer.json",
    CHECKPOINTS,
    "metrics.jsonl",
    "curves.png",
    "attention.png",
    # format 1 kept these at the top
    "model.safetensors",
    "state.safetensors",
    "state.json",
}
"""Every name txdata writes at the top of a run; anything else belongs to somebody else."""


@contextmanager
def new_run(directory: Path, overwrite: bool) -> Iterator[Path]:
    """The folder to write a new run in; at the end of the block it is at `directory`.

    An absent or empty `directory` is written in place; if the block fails before a checkpoint
    exists, what it wrote goes again (and the folder, when txdata made it). A non-empty one
    needs `overwrite` and must be a replaceable run (`check_replaceable`); the new run then
    grows in a hidden sibling and takes the old one's place only when the block ends without
    an exception.
    """
    directory = Path(directory)
    if _is_empty_or_absent(directory):
        made = not directory.exists()
        _make_directory(directory)
        _write_marker(directory)
        try:
            yield directory
        except BaseException:
            if not any((directory / CHECKPOINTS).glob("step-*")):
                _remove_unfinished(directory, made)
            raise
        return
    if not overwrite:
        raise RunError(
            f"{directory} is not empty: pass --overwrite to replace it, "
            f"or --resume {directory} to continue it"
        )
    check_replaceable(directory)
    remove_staging_leftovers(directory, _holds_only_run_files)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}{STAGING}"))
    try:
        _write_marker(staging)
        yield staging
        exchange(staging, directory)  # the old run is now at `staging`
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_replaceable(directory: Path) -> None:
    """Refuse, naming what is there, unless `directory` is a txdata run and only that."""
    check_not_protected(directory, "run", RunError)
    if not is_run(directory):
        raise RunError(
            f"{directory} is not a txdata run (it holds {listing(directory)}): "
            "--overwrite replaces only txdata's own runs; choose another --out"
        )
    foreign = sorted(p.name for p in directory.iterdir() if not _written_by_txdata(p.name))
    foreign += _foreign_checkpoint_files(directory / CHECKPOINTS)
    if foreign:
        raise RunError(
            f"{directory} holds files txdata did not write ({', '.join(foreign[:5])}): "
            "move them out, or choose another --out"
        )


def is_run(directory: Path) -> bool:
    """Whether `directory` carries the run marker, or is a format-1 run (a run config.json)."""
    if (directory / MARKER).is_file():
        return True
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and {"mode", "data", "model", "train"} <= config.keys()


def run_format(directory: Path) -> int:
    """The layout a run was written in: 2 with a marker, 1 before markers existed."""
    try:
        return int(json.loads((directory / MARKER).read_text())["format"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1


CHECKPOINT_FILES = {"model.safetensors", "state.safetensors", "state.json"}


def _foreign_checkpoint_files(root: Path) -> list[str]:
    """What in `checkpoints/` txdata did not write: only `step-N` folders (or their hidden
    leftovers) holding checkpoint files belong there."""
    if not root.is_dir():
        return []
    foreign = []
    for folder in root.iterdir():
        ours = (
            folder.is_dir()
            and not folder.is_symlink()
            and folder.name.startswith(("step-", ".step-"))
        )
        if not ours:
            foreign.append(f"{CHECKPOINTS}/{folder.name}")
            continue
        foreign += [
            f"{CHECKPOINTS}/{folder.name}/{p.name}"
            for p in folder.iterdir()
            if p.name not in CHECKPOINT_FILES
        ]
    return foreign


def _written_by_txdata(name: str) -> bool:
    # Leftovers of an interrupted atomic write: `.NAME.XXXX.tmp` (txdata.files.atomic_path).
    return name in WRITTEN or (name.startswith(".") and name.endswith(".tmp"))


def _is_empty_or_absent(directory: Path) -> bool:
    if directory.is_symlink() and not directory.exists():
        raise RunError(
            f"{directory} is a symbolic link to {os.readlink(directory)}, which is missing"
        )
    if directory.exists() and not directory.is_dir():
        raise RunError(f"{directory} is a file, not a run directory")
    try:
        return not directory.exists() or not any(directory.iterdir())
    except OSError as error:
        raise RunError(f"cannot read {directory}: {error.strerror}") from None


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"cannot create run directory {directory}: {error.strerror}") from None


def _write_marker(directory: Path) -> None:
    atomic_write_text(directory / MARKER, json.dumps({"format": FORMAT}) + "\n")


def _remove_unfinished(directory: Path, made: bool) -> None:
    """A run that failed before its first checkpoint: nothing in it is worth keeping."""
    for entry in directory.iterdir():
        if entry.name not in WRITTEN or entry.is_symlink():
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if made and not any(directory.iterdir()):
        directory.rmdir()


def _holds_only_run_files(folder: Path) -> bool:
    return all(_written_by_txdata(entry.name) for entry in folder.iterdir())
