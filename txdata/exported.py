"""A folder that `txdata export` wrote, read back: `prepare` builds nothing from it, and any
other job loads it with `datasets`.

    txdata-export.json   what the folder is: {"format": 1, "objective": "mlm", "storage":
                         "arrow", "rows": 494, "columns": {...}, "epochs": {...} or null}
    data_config.json     the `DataConfig` the examples were built with (JSON of `asdict`)
    tokenizer.json       the tokenizer whose ids they hold
    README.md            what each column means, and how to load it
    examples/            the objective's examples: `save_to_disk` (arrow) or parquet shards
    epochs/epoch-N/      with --epochs: epoch N's batches, row by row (txdata.export)

A source names the folder: `DataConfig("mlm", SourceConfig("exports/mlm"))`. The export's data
settings are the data: one that the caller sets to another value than both its default and
the export's is refused, and so is another objective than the export's.

>>> is_export("alternating")
False
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import datasets
from tokenizers import Tokenizer

from txdata.config import DataConfig
from txdata.errors import ConfigError, SourceError, TxdataError
from txdata.sources import root_cause
from txdata.tokenizer import load_tokenizer
from txdata.typed_json import from_json

MARKER = "txdata-export.json"
FORMAT = 1
DATA_CONFIG = "data_config.json"
TOKENIZER = "tokenizer.json"
README = "README.md"
EXAMPLES = "examples"
EPOCHS = "epochs"
STORAGES = ("arrow", "parquet")
WRITTEN = {MARKER, DATA_CONFIG, TOKENIZER, README, EXAMPLES, EPOCHS}
"""Every name an export holds at its top; anything else belongs to somebody else."""

# What `save_to_disk` or the parquet shards put in a dataset's folder, and nothing else.
_DATASET_FILE = re.compile(r"data-\d{5}-of-\d{5}\.(arrow|parquet)|dataset_info\.json|state\.json")
_EPOCH = re.compile(r"epoch-\d+")


def is_export(source: str) -> bool:
    """Whether `source` names a folder that `txdata export` wrote (it holds the marker)."""
    return (Path(source) / MARKER).is_file()


def exported_config(config: DataConfig) -> DataConfig:
    """The settings `prepare` builds with: `config` itself, or for an export, the export's
    settings with the export as the source (so a run that records them reads it again)."""
    if not is_export(config.source.source):
        return config
    directory = Path(config.source.source)
    manifest = read_manifest(directory)
    if manifest["objective"] != config.objective:
        raise ConfigError(
            f"{directory} holds {manifest['objective']} examples, not {config.objective}: "
            f"use --mode {manifest['objective']}, or export again with --mode {config.objective}"
        )
    saved = _read_data_config(directory)
    _refuse_other_settings(directory, config, saved)
    source = dataclasses.replace(saved.source, source=config.source.source)
    return dataclasses.replace(saved, source=source)


def load_export(
    config: DataConfig, tokenizer: Tokenizer | None = None
) -> tuple[DataConfig, Tokenizer, datasets.Dataset]:
    """The settings (`exported_config`), tokenizer and examples of the export `config` names.

    A `tokenizer` passed in (a resumed run's) must hold the same vocabulary as the export's.
    """
    config = exported_config(config)
    directory = Path(config.source.source)
    manifest = read_manifest(directory)
    try:
        saved_tokenizer = load_tokenizer(directory / TOKENIZER)
    except TxdataError as error:
        raise SourceError(f"export {directory} is damaged: {error}") from None
    if tokenizer is not None and tokenizer.get_vocab(True) != saved_tokenizer.get_vocab(True):
        raise SourceError(
            f"the tokenizer given differs from {directory / TOKENIZER}, whose ids the examples hold"
        )
    examples = read_dataset(directory / EXAMPLES, manifest["storage"])
    columns = sorted(manifest["columns"])
    if examples.num_rows != manifest["rows"] or sorted(examples.column_names) != columns:
        raise SourceError(
            f"export {directory} is damaged: {EXAMPLES}/ holds {examples.num_rows} rows of "
            f"{', '.join(examples.column_names)}; {MARKER} says {manifest['rows']} of "
            f"{', '.join(columns)}"
        )
    return config, tokenizer or saved_tokenizer, examples


def read_manifest(directory: Path) -> dict[str, Any]:
    """The export's marker, checked enough that reading the rest can rely on it."""
    path = directory / MARKER
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SourceError(
            f"export {directory} is damaged: {path.name} is unreadable ({error})"
        ) from None
    expected = {"format": int, "objective": str, "storage": str, "rows": int, "columns": dict}
    wrong = [
        key
        for key, kind in expected.items()
        if not isinstance(manifest, dict) or not isinstance(manifest.get(key), kind)
    ]
    if wrong:
        raise SourceError(f"export {directory} is damaged: {path.name} lacks {', '.join(wrong)}")
    if manifest["format"] != FORMAT or manifest["storage"] not in STORAGES:
        raise SourceError(
            f"{directory} is an export of format {manifest['format']} in "
            f"{manifest['storage']!r}; this txdata reads format {FORMAT}, arrow or parquet"
        )
    return manifest


def read_dataset(folder: Path, storage: str) -> datasets.Dataset:
    """A dataset that `txdata export` wrote in `storage` (`save_to_disk`, or parquet shards).

    Read through `load_dataset`, as any file source is: the rows land in datasets' cache, so
    that work on them (a held-out split) writes its cache files there, never into the export,
    which may be read-only or replaced later. `datasets.load_from_disk` reads the arrow one
    as it lies.
    """
    suffix = "arrow" if storage == "arrow" else "parquet"
    try:
        shards = sorted(folder.glob(f"data-*.{suffix}"))
        if not shards:
            raise FileNotFoundError(f"no data-*.{suffix} in {folder.name}")
        files = [str(shard) for shard in shards]
        return datasets.load_dataset(storage, data_files=files, split="train")
    except Exception as error:  # datasets raises many types for one cause: unreadable files
        raise SourceError(f"cannot read {folder} as {storage}: {root_cause(error)}") from None


def foreign_files(directory: Path) -> list[str]:
    """What in an export folder txdata did not write, as paths inside it."""
    foreign = []
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            continue  # an interrupted atomic write (txdata.files.atomic_path)
        if entry.name not in WRITTEN or entry.is_symlink():
            foreign.append(entry.name)
        elif entry.name == EXAMPLES:
            foreign += _foreign_dataset_files(entry, EXAMPLES)
        elif entry.name == EPOCHS:
            for epoch in sorted(entry.iterdir()):
                where = f"{EPOCHS}/{epoch.name}"
                if not _EPOCH.fullmatch(epoch.name) or epoch.is_symlink():
                    foreign.append(where)
                else:
                    foreign += _foreign_dataset_files(epoch, where)
    return foreign


def _foreign_dataset_files(folder: Path, where: str) -> list[str]:
    if not folder.is_dir():
        return [where]
    return [
        f"{where}/{path.name}"
        for path in sorted(folder.iterdir())
        if not _DATASET_FILE.fullmatch(path.name) or not path.is_file()
    ]


def _read_data_config(directory: Path) -> DataConfig:
    path = directory / DATA_CONFIG
    try:
        return from_json(DataConfig, json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise SourceError(
            f"export {directory} is damaged: {path.name} is unreadable ({error})"
        ) from None
    except TxdataError as error:
        raise SourceError(f"export {directory} is damaged: {path.name}: {error}") from None


def _refuse_other_settings(directory: Path, config: DataConfig, saved: DataConfig) -> None:
    """A data setting asked for (not the default) that differs from the export's."""
    given, default = _flat(config), _flat(DataConfig(config.objective))
    exported = _flat(saved)
    for key, value in given.items():
        if key == "source.source" or value == default.get(key) or value == exported.get(key):
            continue
        option = "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        raise ConfigError(
            f"{directory} was exported with {option} {exported.get(key)!r}, not {value!r}: "
            f"an export's data settings are its own; leave out {option}, or export again"
        )


def _flat(config: DataConfig) -> dict[str, Any]:
    """`{"length": 12, "source.pattern": "1 0", "options.whole_word": False, ...}`."""
    flat = {}
    for key, value in dataclasses.asdict(config).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat
