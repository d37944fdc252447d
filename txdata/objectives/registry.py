"""The objectives by name. Each module of this package registers its own with `@register`.

>>> objective_names("mlm, clm")
['mlm', 'clm']
>>> objective_names("all") == list(OBJECTIVES)  # every registered one
True
>>> objective_names("both")
['seq2seq', 'mlm']
"""

from __future__ import annotations

from txdata.errors import ConfigError, UnknownNameError
from txdata.objectives.base import ARCHITECTURES, Objective

OBJECTIVES: dict[str, type[Objective]] = {}
ALIASES = {"both": ("seq2seq", "mlm")}  # the two this product began with, side by side


def register(objective: type[Objective]) -> type[Objective]:
    """Class decorator: make an objective known to the CLI, the models and the tests."""
    if objective.architecture not in ARCHITECTURES:
        raise ConfigError(f"{objective.name}: architecture must be one of {ARCHITECTURES}")
    OBJECTIVES[objective.name] = objective
    return objective


def objective_class(name: str) -> type[Objective]:
    if name not in OBJECTIVES:
        raise UnknownNameError(f"unknown mode {name!r}: choose {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def objective_names(spec: str) -> list[str]:
    """`mlm,seq2seq`, `all` or `both` as a list of registered names, in the order given."""
    if spec == "all":
        return list(OBJECTIVES)
    names = [n.strip() for part in spec.split(",") for n in ALIASES.get(part.strip(), [part])]
    for name in names:
        objective_class(name)
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--mode {spec!r}: name each objective once")
    return names
