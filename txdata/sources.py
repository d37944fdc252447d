"""Where text comes from: the alternating sequence, a bundled sample, or a local file.

Every source gives `datasets.Dataset`s, in two shapes that objectives ask for:
- `texts()`: one document per row, column `text` (for mlm);
- `pairs()`: columns `source` and `target` (for seq2seq).

A text file holds documents separated by blank lines. A pairs file (JSON Lines, CSV, Parquet)
gives its `source`/`target` columns; asked for texts, each side is a document. Asked for pairs,
a text corpus pairs each sentence with the next one in the same document.

>>> source = load_source(SourceConfig("sample:english"))
>>> source.pairs()[0]
{'source': 'Emma loved the garden.', 'target': 'On Saturday, she swept three yellow leaves.'}
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from txdata.alternating import alternating_pairs
from txdata.errors import ConfigError, SourceError
from txdata.lazy_import import lazy_import
from txdata.memory import check_fits
from txdata.samples import sample_path
from txdata.special_tokens import SPECIAL_TOKENS

# Imported at first use (txdata/lazy_import.py): `import txdata` does not cost it.
datasets = lazy_import("datasets", globals())

_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass
class SourceConfig:
    """What to read. `source` is `alternating`, `sample:NAME`, a path to a local file, or
    a folder that `txdata export` wrote (`txdata.exported`: its examples, read back)."""

    source: str = field(
        default="alternating",
        metadata={
            "help": "alternating, sample:NAME (english, numbers), a local "
            ".txt/.jsonl/.csv/.parquet, or a folder that txdata export wrote."
        },
    )
    pattern: str = field(default="1 0", metadata={"help": "Alternating: the repeated symbols."})
    count: int = field(default=256, metadata={"help": "Alternating: number of windows."})
    offset: int = field(default=0, metadata={"help": "Alternating: where the first window starts."})
    task: str = field(
        default="shift",
        metadata={"help": "Alternating seq2seq: shift (next window) or continue (next symbols)."},
    )
    horizon: int = field(default=4, metadata={"help": "Alternating continue: symbols to predict."})
    text_column: str = field(default="text", metadata={"help": "Column holding text."})
    source_column: str = field(default="source", metadata={"help": "Column holding pair sources."})
    target_column: str = field(default="target", metadata={"help": "Column holding pair targets."})

    def __post_init__(self) -> None:
        for name in ("count", "horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.offset < 0:
            raise ConfigError(f"offset must be 0 or more, got {self.offset}")
        symbols = self.pattern.split()
        if not symbols:
            raise ConfigError("the pattern is empty: give symbols separated by spaces, e.g. '1 0'")
        special = sorted(set(symbols) & set(SPECIAL_TOKENS))
        if special:
            raise ConfigError(
                f"the pattern holds the special token {special[0]}: "
                "a symbol of the pattern must be an ordinary token"
            )


class Source:
    """A loaded corpus. `fingerprint` changes whenever its content or reading options do."""

    def __init__(self, config: SourceConfig, dataset: datasets.Dataset, fingerprint: str) -> None:
        self.config = config
        self.dataset = dataset
        self.fingerprint = fingerprint

    @property
    def is_pairs(self) -> bool:
        columns = self.dataset.column_names
        return self.config.source_column in columns and self.config.target_column in columns

    def texts(self) -> datasets.Dataset:
        config, columns = self.config, self.dataset.column_names
        if config.text_column in columns:
            return _strings(self.dataset, {config.text_column: "text"})
        if self.is_pairs:
            return self.dataset.map(
                _sides_as_documents,
                batched=True,
                fn_kwargs={"columns": (config.source_column, config.target_column)},
                remove_columns=columns,
            )
        raise SourceError(
            f"{config.source} has no column {config.text_column!r} "
            f"(columns: {', '.join(columns)}); pick one with --text-column"
        )

    def pairs(self) -> datasets.Dataset:
        config, columns = self.config, self.dataset.column_names
        if self.is_pairs:
            names = {config.source_column: "source", config.target_column: "target"}
            return _strings(self.dataset, names)
        if config.text_column in columns:
            return self.texts().map(_next_sentence_pairs, batched=True, remove_columns=["text"])
        raise SourceError(
            f"{config.source} has neither {config.source_column!r}/{config.target_column!r} nor "
            f"{config.text_column!r} columns (columns: {', '.join(columns)})"
        )


def load_source(config: SourceConfig, window: int = 10) -> Source:
    """Load a corpus; `window` is the symbols per window of the alternating sequence."""
    if config.source == "alternating":
        return _alternating(config, window)
    if config.source.startswith("sample:"):
        return _from_file(config, sample_path(config.source.removeprefix("sample:")))
    return _from_file(config, Path(config.source))


SYMBOL_BYTES = 64  # one symbol of a window held as text, in Python and in Arrow, generously


def _alternating(config: SourceConfig, window: int) -> Source:
    longest = max(window, config.horizon if config.task == "continue" else 0)
    check_fits(
        f"--count {config.count} windows of {longest} symbols",
        config.count * longest * 3 * SYMBOL_BYTES,  # text, source and target columns
    )
    sources, targets = alternating_pairs(
        config.pattern, window, config.count, config.offset, config.task, config.horizon
    )
    # The source windows double as the mlm documents, so both modes read the same examples.
    dataset = datasets.Dataset.from_dict({"text": sources, "source": sources, "target": targets})
    fingerprint = hashlib.sha256(json.dumps([asdict(config), window]).encode()).hexdigest()
    return Source(config, dataset, fingerprint)


def _from_file(config: SourceConfig, path: Path) -> Source:
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if not path.is_file():
        raise SourceError(
            f"{path} is a directory, neither a corpus file nor a txdata export "
            "(it has no txdata-export.json)"
        )
    builder = _BUILDERS.get(path.suffix.lower(), "text")
    digest = _checked_digest(path, text=builder != "parquet")
    options = {"sample_by": "paragraph"} if builder == "text" else {}
    try:
        dataset = datasets.load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as error:  # datasets raises many types for one cause: an unreadable file
        raise SourceError(f"cannot read {path} as {builder}: {root_cause(error)}") from None
    if builder == "text":
        dataset = dataset.map(_documents, batched=True)
    if dataset.num_rows == 0:
        raise SourceError(f"{path} holds no text")
    columns = {key: value for key, value in asdict(config).items() if key.endswith("column")}
    fingerprint = hashlib.sha256(json.dumps([digest, builder, columns]).encode()).hexdigest()
    return Source(config, dataset, fingerprint)


def _checked_digest(path: Path, text: bool) -> str:
    """The file's sha256; for text formats, also refuse binary, non-UTF-8 or blank files."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size, blank = 0, True
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            if not text:
                continue
            if b"\x00" in chunk:
                raise SourceError(f"{path} is a binary file, not UTF-8 text")
            try:
                blank = blank and not decoder.decode(chunk).strip()
            except UnicodeDecodeError as error:
                raise SourceError(f"{path} is not UTF-8 text ({error.reason})") from None
    if size == 0:
        raise SourceError(f"{path} is empty")
    if text:
        try:
            decoder.decode(b"", final=True)  # a sequence cut off at the end of the file
        except UnicodeDecodeError as error:
            raise SourceError(f"{path} is not UTF-8 text ({error.reason})") from None
        if blank:
            raise SourceError(f"{path} holds no text")
    return digest.hexdigest()


def root_cause(error: BaseException) -> str:
    """The first line of the innermost error: datasets wraps the useful one."""
    while error.__cause__ or error.__context__:
        error = error.__cause__ or error.__context__
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _strings(dataset: datasets.Dataset, names: dict[str, str]) -> datasets.Dataset:
    """Only the `names` columns, renamed, as strings (a JSON column of numbers is int64).

    A row with an empty or null cell in any of them is skipped: it holds no text to learn
    from. A column of lists or objects is refused, and so is a corpus with no row left.
    """
    dataset = dataset.select_columns(list(names))
    for column in names:
        feature = dataset.features[column]
        if not isinstance(feature, datasets.Value):
            kind = "lists" if isinstance(feature, (list, datasets.Sequence)) else "objects"
            raise SourceError(f"column {column!r} holds {kind}, not text")
        if feature != datasets.Value("string"):
            dataset = dataset.cast_column(column, datasets.Value("string"))
    dataset = dataset.filter(_all_cells_hold_text, batched=True, fn_kwargs={"columns": list(names)})
    if dataset.num_rows == 0:
        raise SourceError(
            f"column {' and '.join(map(repr, names))} holds no text: every cell is empty"
        )
    renames = {old: new for old, new in names.items() if old != new}
    return dataset.rename_columns(renames) if renames else dataset


def _all_cells_hold_text(batch: dict[str, list], columns: list[str]) -> list[bool]:
    return [all(cell and cell.strip() for cell in row) for row in zip(*(batch[c] for c in columns))]


def _documents(batch: dict[str, list[str]]) -> dict[str, list[str]]:
    """Split on blank lines, spaces and tabs allowed (datasets splits on bare ones only)."""
    parts = (part.strip() for text in batch["text"] for part in _BLANK_LINE.split(text))
    return {"text": [part for part in parts if part]}


def _sides_as_documents(batch: dict[str, list], columns: tuple[str, str]) -> dict[str, list[str]]:
    source, target = columns
    return {"text": [str(side) for pair in zip(batch[source], batch[target]) for side in pair]}


def _next_sentence_pairs(batch: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each sentence and the one after it, within one document."""
    sources, targets = [], []
    for document in batch["text"]:
        sentences = [s.strip() for s in _SENTENCE_END.split(document) if s.strip()]
        sources += sentences[:-1]
        targets += sentences[1:]
    return {"source": sources, "target": targets}
