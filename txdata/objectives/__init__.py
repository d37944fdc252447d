"""Objectives: each module of this package is one, and registers itself.

A new objective is one file here: a subclass of `Objective` under `@register`. Importing this
package imports every module in it, so nothing else needs to be edited.
"""

from __future__ import annotations

import importlib
import pkgutil

from txdata.objectives.base import ARCHITECTURES, Columns, NoOptions, Objective
from txdata.objectives.registry import OBJECTIVES, objective_class, objective_names, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "registry"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "ARCHITECTURES",
    "OBJECTIVES",
    "Columns",
    "NoOptions",
    "Objective",
    "objective_class",
    "objective_names",
    "register",
]
