"""Command options made from the library's dataclasses, so each default and help lives once.

A dataclass field with `metadata={"help": ...}` becomes an option of the same name: the
source's fields, the data settings, and each objective's own options (in a `--help` panel of
its own), the model's and the training's. `data_config(ctx.params, objective)` turns what
typer parsed back into a `DataConfig`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Annotated, Any

import typer

from models.config import ModelConfig
from models.run_config import TrainConfig
from txdata import DataConfig, SourceConfig
from txdata.objectives import OBJECTIVES

DATA = "Data"


class Format(str, Enum):
    table = "table"
    json = "json"


def _objective_help(extra: str = "") -> str:
    names = ", ".join(OBJECTIVES)
    return f"Objective: {names}{extra}."


ObjectiveName = Enum("ObjectiveName", {name: name for name in OBJECTIVES}, type=str)
"""The registered objectives as choices, so `--help` lists them and typer checks them."""

Mode = Annotated[ObjectiveName, typer.Option(help="Objective.")]
DEFAULT_OBJECTIVE = ObjectiveName(DataConfig.objective)
Modes = Annotated[
    str,
    typer.Option(help=_objective_help("; several as mlm,seq2seq, or all (both: seq2seq,mlm)")),
]


def options_of(
    cls: type, panel: str | None, skip: Iterable[str] = (), defaults: dict | None = None
) -> list[inspect.Parameter]:
    """One typer option per documented field of the dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    parameters = []
    for field in dataclasses.fields(cls):
        if field.name in skip or "help" not in field.metadata:
            continue
        default = (defaults or {}).get(field.name, field.default)
        option = typer.Option(help=field.metadata["help"], rich_help_panel=panel)
        parameters.append(
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[hints[field.name], option],
            )
        )
    return parameters


def objective_panel(name: str) -> str:
    return f"Options of {name}"


def objective_options() -> list[inspect.Parameter]:
    """Every objective's options, each once: one that several objectives share (nsp takes
    mlm's masking options) is one option, in a panel that names them all."""
    owners: dict[str, tuple[str, ...]] = {}  # option -> the objectives taking it, in order
    declared: dict[str, type] = {}  # option -> the first Options dataclass declaring it
    for name, objective in OBJECTIVES.items():
        for field in dataclasses.fields(objective.Options):
            owners[field.name] = (*owners.get(field.name, ()), name)
            declared.setdefault(field.name, objective.Options)
    parameters = []
    for group in dict.fromkeys(owners.values()):
        names = [option for option, taking in owners.items() if taking == group]
        panel = objective_panel(", ".join(group))
        parameters += options_of(declared[names[0]], panel, skip=set(owners) - set(names))
    return parameters


DATA_OPTIONS = [
    *options_of(SourceConfig, DATA),
    *options_of(DataConfig, DATA, skip=("objective",)),
    *objective_options(),
]
"""The options of every command that reads data."""

MODEL_OPTIONS = options_of(ModelConfig, "Model", skip=("vocab_size", "max_len"))
TRAINING_OPTIONS = options_of(TrainConfig, "Training")


def with_options(*extra: list[inspect.Parameter]) -> Callable[[Callable], Callable]:
    """Give a command `extra` options (lists of parameters) on top of its own.

    typer builds options from a function's signature, so the wrapper shows typer the
    command's parameters plus these; the command reads them from `ctx.params`.
    """

    def decorate(command: Callable) -> Callable:
        # eval_str: typer reads the Annotated options, not `from __future__` strings, from it.
        own = inspect.signature(command, eval_str=True)
        added = [p for group in extra for p in group if p.name not in own.parameters]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            for option in added:
                kwargs.pop(option.name, None)
            return command(*args, **kwargs)

        wrapper.__signature__ = own.replace(parameters=[*own.parameters.values(), *added])
        return wrapper

    return decorate


with_data_options = with_options(DATA_OPTIONS)


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user set option `name`, rather than leaving its default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def fields_from(cls: type, params: dict[str, Any], **fixed: Any) -> Any:
    """`cls(...)` from the parsed options that are its fields; `fixed` wins."""
    names = {field.name for field in dataclasses.fields(cls)} - fixed.keys()
    return cls(**{k: v for k, v in params.items() if k in names}, **fixed)


def data_config(params: dict[str, Any], objective: str) -> DataConfig:
    """The `DataConfig` that a command's parsed options (`ctx.params`) describe; with a
    `--source` that txdata export wrote, the export's settings, which a run then records."""
    kind = OBJECTIVES.get(objective)
    options = fields_from(kind.Options, params) if kind else None
    config = fields_from(
        DataConfig,
        params,
        objective=objective,
        source=fields_from(SourceConfig, params),
        options=options,
    )
    # Imported here: it loads datasets, which `txdata --help` should not wait for.
    from txdata.exported import exported_config

    return exported_config(config)
