"""Rebuild a (nested) dataclass from JSON, checking every value against its declared type.

A config.json that a person edited, or that another version wrote, must fail with one line
naming the field, not deep inside the code that first uses the value.

>>> from txdata.objectives.mlm import MaskingConfig
>>> from_json(MaskingConfig, {"mlm_probability": 0.2, "whole_word": True})
MaskingConfig(mlm_probability=0.2, mask_probability=0.8, random_probability=0.1, whole_word=True, exact_count=False)
>>> from_json(MaskingConfig, {"mlm_probability": "high"})
Traceback (most recent call last):
txdata.errors.ConfigError: mlm_probability must be a number, not 'high'
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from txdata.errors import ConfigError

T = TypeVar("T")
_NAMES = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}


def from_json(cls: type[T], raw: Any, where: str = "") -> T:
    """`cls(**raw)` with each field checked; unknown keys and missing required ones refused."""
    name = where.rstrip(".") or cls.__name__
    if not isinstance(raw, dict):
        raise ConfigError(f"{name} must be an object, not {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{name} has unknown settings: {', '.join(unknown)}")
    values = {}
    for name, value in raw.items():
        values[name] = _check(hints[name], value, f"{where}{name}")
    try:
        return cls(**values)
    except TypeError as error:  # a required field is missing
        raise ConfigError(f"{name}: {error}") from None


def _check(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (kind,) = [option for option in options if option is not type(None)]
        return _check(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        (item,) = typing.get_args(kind) or (Any,)
        return [_check(item, element, f"{where}[{i}]") for i, element in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        return from_json(kind, value, f"{where}.")
    if kind is Any:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {_NAMES.get(kind, kind.__name__)}, not {value!r}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, not {value}")
    return value
