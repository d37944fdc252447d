"""Options shared by the commands that read data, and the `DataConfig` they describe."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Annotated

import typer

from txdata import DataConfig, MaskingConfig, SourceConfig
from txdata.objectives import OBJECTIVES

DATA = "Data"
MASKING = "Masking (mlm)"


class Format(str, Enum):
    table = "table"
    json = "json"


Mode = Annotated[str, typer.Option(help=f"Objective: {', '.join(sorted(OBJECTIVES))}.")]
ShowMode = Annotated[
    str, typer.Option(help=f"Objective: {', '.join(sorted(OBJECTIVES))}, or both side by side.")
]
Source = Annotated[
    str,
    typer.Option(
        help="alternating, sample:NAME (english, numbers), or a local .txt/.jsonl/.csv/.parquet.",
        rich_help_panel=DATA,
    ),
]
Pattern = Annotated[
    str, typer.Option(help="Alternating: the repeated symbols.", rich_help_panel=DATA)
]
Length = Annotated[
    int, typer.Option(help="Tokens per sequence, special tokens included.", rich_help_panel=DATA)
]
Count = Annotated[int, typer.Option(help="Alternating: number of windows.", rich_help_panel=DATA)]
Offset = Annotated[
    int, typer.Option(help="Alternating: where the first window starts.", rich_help_panel=DATA)
]
Task = Annotated[
    str,
    typer.Option(
        help="Alternating seq2seq: shift (next window) or continue (next symbols).",
        rich_help_panel=DATA,
    ),
]
Horizon = Annotated[
    int, typer.Option(help="Alternating continue: symbols to predict.", rich_help_panel=DATA)
]
TokenizerKind = Annotated[
    str,
    typer.Option(
        help="auto, wordpiece, bpe, char, or a tokenizer.json path.", rich_help_panel=DATA
    ),
]
VocabSize = Annotated[
    int, typer.Option(help="Vocabulary of a trained tokenizer.", rich_help_panel=DATA)
]
TextColumn = Annotated[str, typer.Option(help="Column holding text.", rich_help_panel=DATA)]
SourceColumn = Annotated[
    str, typer.Option(help="Column holding pair sources.", rich_help_panel=DATA)
]
TargetColumn = Annotated[
    str, typer.Option(help="Column holding pair targets.", rich_help_panel=DATA)
]
PadToMultipleOf = Annotated[
    int | None, typer.Option(help="Round padded lengths up.", rich_help_panel=DATA)
]
MlmProbability = Annotated[
    float, typer.Option(help="Chance that a token is chosen.", rich_help_panel=MASKING)
]
MaskProbability = Annotated[
    float, typer.Option(help="Of the chosen: share set to [MASK].", rich_help_panel=MASKING)
]
RandomProbability = Annotated[
    float, typer.Option(help="Of the chosen: share set to a random token.", rich_help_panel=MASKING)
]
WholeWord = Annotated[
    bool, typer.Option(help="Choose whole words, not tokens.", rich_help_panel=MASKING)
]
ExactCount = Annotated[
    bool,
    typer.Option(
        help="Choose round(n·p) tokens per row, not each with p.", rich_help_panel=MASKING
    ),
]


Leaky = Annotated[
    bool,
    typer.Option(
        help="seq2seq demonstration of a classic bug: the decoder reads its own labels.",
        rich_help_panel=DATA,
    ),
]


DATA_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
    for name, kind, default in (
        ("source", Source, "alternating"),
        ("pattern", Pattern, "1 0"),
        ("length", Length, 12),
        ("count", Count, 256),
        ("offset", Offset, 0),
        ("task", Task, "shift"),
        ("horizon", Horizon, 4),
        ("tokenizer", TokenizerKind, "auto"),
        ("vocab_size", VocabSize, 2000),
        ("text_column", TextColumn, "text"),
        ("source_column", SourceColumn, "source"),
        ("target_column", TargetColumn, "target"),
        ("pad_to_multiple_of", PadToMultipleOf, None),
        ("mlm_probability", MlmProbability, 0.15),
        ("mask_probability", MaskProbability, 0.8),
        ("random_probability", RandomProbability, 0.1),
        ("whole_word", WholeWord, False),
        ("exact_count", ExactCount, False),
        ("leaky", Leaky, False),
    )
]
"""The options of every command that reads data, declared once."""


def with_data_options(command: Callable) -> Callable:
    """Give a command every option of `DATA_OPTIONS` on top of its own.

    typer builds options from a function's signature, so the wrapper shows typer the
    command's parameters plus these; the command reads them from `ctx.params`, usually
    through `data_config(ctx.params)`.
    """
    own = inspect.signature(command)
    added = [option for option in DATA_OPTIONS if option.name not in own.parameters]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        for option in added:
            kwargs.pop(option.name, None)
        return command(*args, **kwargs)

    wrapper.__signature__ = own.replace(parameters=[*own.parameters.values(), *added])
    return wrapper


def data_config(options: dict) -> DataConfig:
    """The `DataConfig` that a command's parsed options (`ctx.params`) describe."""
    return DataConfig(
        mode=options["mode"],
        source=SourceConfig(
            source=options["source"],
            pattern=options["pattern"],
            count=options["count"],
            offset=options["offset"],
            task=options["task"],
            horizon=options["horizon"],
            text_column=options["text_column"],
            source_column=options["source_column"],
            target_column=options["target_column"],
        ),
        tokenizer=options["tokenizer"],
        vocab_size=options["vocab_size"],
        length=options["length"],
        masking=MaskingConfig(
            mlm_probability=options["mlm_probability"],
            mask_probability=options["mask_probability"],
            random_probability=options["random_probability"],
            whole_word=options["whole_word"],
            exact_count=options["exact_count"],
        ),
        pad_to_multiple_of=options["pad_to_multiple_of"],
        leaky=options.get("leaky", False),
    )
