"""An objective's examples written to disk for any training job: `datasets` loads them back.

>>> import tempfile
>>> from txdata import DataConfig
>>> with tempfile.TemporaryDirectory() as folder:
...     exported = export(DataConfig("mlm"), Path(folder) / "mlm", epochs=2)
>>> exported.rows, exported.epochs, exported.batches, exported.batch_size
(256, 2, 2, 128)

The folder (its layout in `txdata.exported`) holds the examples, the tokenizer, the data
config and a README saying what each column means. With `epochs=N` it also holds N epochs of
collated batches, each masked once and stored (static masking; N epochs are N maskings, the
role of `--dupe_factor` in Google's BERT `create_pretraining_data.py`):
epoch e is `Batches(examples, collate, batch_size, seed, e)`, its batches one after another,
each row as the batch holds it, padded to the batch's width. Rows of one batch are therefore
consecutive and stack back into it; `DataLoader(rows, batch_size=batch_size)` gives the
batches in order.

The folder is written whole or not at all: it grows in a hidden sibling that takes its name
at the end (`txdata.staged_folder`). A folder already there is replaced only with `overwrite`,
and only when it is an export holding nothing but what txdata writes.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import torch

from txdata.batches import Batches
from txdata.collate import check_seed
from txdata.config import DataConfig
from txdata.errors import ConfigError, OutputError
from txdata.exported import (
    DATA_CONFIG,
    EPOCHS,
    EXAMPLES,
    FORMAT,
    MARKER,
    README,
    STORAGES,
    TOKENIZER,
    foreign_files,
    is_export,
)
from txdata.files import atomic_write_text
from txdata.pipeline import PreparedData, prepare
from txdata.staged_folder import check_not_protected, listing, staged_folder
from txdata.tokenizer import save_tokenizer

SHARD_BYTES = 500 * 2**20  # per parquet shard, as `save_to_disk` cuts its Arrow shards
BATCH_COLUMNS = {
    "batch": "the batch the row belongs to, 0 … n-1; a batch's rows are consecutive",
    "input_ids": "what the model (its encoder) reads, as collation made it: masked or "
    "corrupted where the objective does, [PAD] on padding",
    "attention_mask": "1 on a real position of input_ids, 0 on padding",
    "token_type_ids": "segment of each position: 0 for A (or the only segment), 1 for B",
    "labels": "the token each position is scored on, -100 where none is",
    "decoder_input_ids": "what the decoder reads: the labels shifted right behind [BOS], "
    "[PAD] on padding",
    "decoder_attention_mask": "1 on a real position of decoder_input_ids and labels, 0 on padding",
    "next_sentence_label": "0 when B follows A in the text, 1 when it does not",
}
"""What each column of an epoch holds: Hugging Face's batch keys, the same for every objective."""


@dataclass
class Exported:
    """What `export` wrote: where, how many examples, and the epochs' batches."""

    directory: Path
    objective: str
    rows: int
    format: str
    epochs: int
    batches: int  # per epoch; 0 without epochs
    batch_size: int


def export(
    config: DataConfig,
    out: Path,
    format: str = "arrow",
    epochs: int = 0,
    batch_size: int | None = None,
    seed: int = 0,
    num_proc: int | None = None,
    overwrite: bool = False,
) -> Exported:
    """Build `config`'s examples (with `num_proc` processes) and write them to `out` in
    `format` (`arrow`: `save_to_disk`; `parquet`: shards), with `epochs` epochs of batches of
    `batch_size` rows (the objective's default when None), seeded by `seed`."""
    if format not in STORAGES:
        raise ConfigError(f"unknown format {format!r}: choose {' or '.join(STORAGES)}")
    if epochs < 0:
        raise ConfigError(f"epochs must be 0 or more, got {epochs}")
    check_seed(seed)
    batch_size = config.kind.batch_size if batch_size is None else batch_size
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    out = Path(out)
    with staged_folder(out, overwrite, _check_replaceable, _holds_only_export_files) as folder:
        data = prepare(config, num_proc=num_proc)
        write_dataset(data.examples, folder / EXAMPLES, format, num_proc)
        batches, columns = 0, []
        for epoch in range(epochs):
            scratch = folder / f".epoch-{epoch}.tmp"
            rows = epoch_rows(data, batch_size, seed, epoch, scratch)
            write_dataset(rows, folder / EPOCHS / f"epoch-{epoch}", format, num_proc)
            batches, columns = int(rows[-1]["batch"]) + 1, rows.column_names
            del rows  # it maps the scratch file, which goes now
            scratch.unlink()
            if epoch == 0:
                _check_room(folder / EPOCHS / "epoch-0", epochs)
        exported = Exported(
            out, config.objective, data.examples.num_rows, format, epochs, batches, batch_size
        )
        manifest = _manifest(data, exported, seed, columns)
        save_tokenizer(data.tokenizer, folder / TOKENIZER)
        atomic_write_text(folder / DATA_CONFIG, _json(asdict(data.config)))
        atomic_write_text(folder / README, readme(data, manifest))
        atomic_write_text(folder / MARKER, _json(manifest))
    return exported


def _check_room(first: Path, epochs: int) -> None:
    """Epochs are the same size give or take their padding: once the first is written, stop
    before the others fill the disk (`--epochs 10**11` would, a few GB a minute)."""
    size = sum(path.stat().st_size for path in first.rglob("*") if path.is_file())
    needed, free = size * (epochs - 1), shutil.disk_usage(first).free
    if needed > free:
        raise OutputError(
            f"{epochs:,} epochs need about {_gigabytes(size * epochs)} and the disk holds "
            f"{_gigabytes(free)} more: ask for fewer --epochs"
        )


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:,.1f} GB"


def epoch_rows(
    data: PreparedData, batch_size: int, seed: int, epoch: int, scratch: Path
) -> datasets.Dataset:
    """Epoch `epoch`'s batches, row by row, with a `batch` column: written batch by batch to
    the Arrow file `scratch` and mapped from there, so an epoch never has to fit in memory."""
    batches = Batches(data.examples, data.objective.collate, batch_size, seed, epoch)
    tables = (batch_table(batches[index], index) for index in range(len(batches)))
    first = next(tables)
    with pa.ipc.new_stream(str(scratch), first.schema) as writer:
        writer.write_table(first)
        for table in tables:
            writer.write_table(table)
    return datasets.Dataset.from_file(str(scratch))


def batch_table(batch: dict[str, torch.Tensor], index: int) -> pa.Table:
    """One batch as rows: (B, T) tensors become B lists of T ids, (B,) ones B numbers."""
    rows = len(batch["input_ids"])
    columns = {"batch": pa.array(np.full(rows, index, dtype=np.int64))}
    for key, tensor in batch.items():
        values = tensor.numpy()
        if values.ndim == 1:
            columns[key] = pa.array(values)
            continue
        width = values.shape[1]
        offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
        columns[key] = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))
    return pa.table(columns)


def write_dataset(
    dataset: datasets.Dataset, folder: Path, format: str, num_proc: int | None
) -> None:
    """`save_to_disk`, or parquet shards `data-00000-of-0000N.parquet` of at most ~500 MB."""
    if format == "arrow":
        dataset.save_to_disk(str(folder), num_proc=num_proc)
        return
    folder.mkdir(parents=True)
    shards = max(1, math.ceil(dataset.data.nbytes / SHARD_BYTES))
    for index in range(shards):
        shard = dataset.shard(shards, index, contiguous=True)
        shard.to_parquet(str(folder / f"data-{index:05d}-of-{shards:05d}.parquet"))


def readme(data: PreparedData, manifest: dict) -> str:
    """What the folder holds, what each column means, and how to load it, for a person."""
    config, storage = data.config, manifest["storage"]
    lines = [
        f"# {config.objective} examples, exported by txdata",
        "",
        f"Built from `{config.source.source}` by the settings in `{DATA_CONFIG}`, with the",
        f"tokenizer `{TOKENIZER}`, whose ids every column holds; `{MARKER}` says what",
        "this README does, for programs. Paths below are inside this folder.",
        "",
        f"## {EXAMPLES}/: {manifest['rows']} examples, unpadded",
        "",
        f"    {_loader(EXAMPLES, storage)}",
        "",
        *_column_table(manifest["columns"]),
        "",
        "These are the fixed part of the data. txdata draws masks and pads when it collates a",
        "batch: `txdata.collators.Collator` does that in any training loop, or",
        f"`txdata train --mode {config.objective} --source THIS_FOLDER` trains on them.",
    ]
    epochs = manifest["epochs"]
    if epochs:
        lines += [
            "",
            f"## {EPOCHS}/epoch-N/: {epochs['count']} epochs of collated batches",
            "",
            f"    {_loader(EPOCHS + '/epoch-0', storage)}",
            "",
            f"Epoch N is `Batches(examples, collate, batch_size={epochs['batch_size']}, "
            f"seed={epochs['seed']}, epoch=N)`:",
            f"its {epochs['batches']} batches one after another, with their masks drawn once",
            "(static masking). Each row is stored as its batch holds it, padded to the batch's",
            "width, so the rows of batch k (column `batch`) stack back into batch k, and",
            f"`DataLoader(rows.with_format('torch'), batch_size={epochs['batch_size']})` "
            "yields the batches in order",
            "(drop the `batch` column first). A row's real positions are where its attention",
            "mask is 1 (`decoder_attention_mask` for `decoder_input_ids` and the labels of an",
            "encoder-decoder); the rest is padding, [PAD] or -100 in the labels.",
            "",
            *_column_table(epochs["columns"]),
        ]
    return "\n".join(lines) + "\n"


def _manifest(data: PreparedData, exported: Exported, seed: int, epoch_columns: list) -> dict:
    meanings = type(data.objective).example_columns
    epochs = None
    if exported.epochs:
        epochs = {
            "count": exported.epochs,
            "batch_size": exported.batch_size,
            "seed": seed,
            "batches": exported.batches,
            "columns": {key: BATCH_COLUMNS.get(key, "") for key in epoch_columns},
        }
    return {
        "format": FORMAT,
        "objective": exported.objective,
        "storage": exported.format,
        "rows": exported.rows,
        "columns": {name: meanings.get(name, "") for name in data.examples.column_names},
        "epochs": epochs,
    }


def _json(value: dict) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _loader(folder: str, storage: str) -> str:
    if storage == "arrow":
        return f'datasets.load_from_disk("{folder}")'
    return f'datasets.load_dataset("parquet", data_files="{folder}/*.parquet", split="train")'


def _column_table(columns: dict[str, str]) -> list[str]:
    return ["| column | meaning |", "|---|---|"] + [
        f"| `{name}` | {meaning} |" for name, meaning in columns.items()
    ]


def _check_replaceable(directory: Path) -> None:
    """Refuse, naming what is there, unless `directory` is an export and only that."""
    check_not_protected(directory, "export", OutputError)
    if not is_export(str(directory)):
        raise OutputError(
            f"{directory} is not a txdata export (it holds {listing(directory)}): "
            "--overwrite replaces only txdata's own exports; choose another --out"
        )
    foreign = foreign_files(directory)
    if foreign:
        raise OutputError(
            f"{directory} holds files txdata did not write ({', '.join(foreign[:5])}): "
            "move them out, or choose another --out"
        )


def _holds_only_export_files(folder: Path) -> bool:
    """A staging folder a kill left: only an export's files, and scratch `.*.tmp` files."""
    return not foreign_files(folder)
