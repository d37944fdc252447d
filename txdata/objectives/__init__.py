"""Objectives, registered by name. A new one is a module with a class like these two.

>>> sorted(OBJECTIVES)
['mlm', 'seq2seq']
"""

from __future__ import annotations

from txdata.errors import UnknownNameError
from txdata.objectives.base import Objective, Rows
from txdata.objectives.mlm import MaskedLM, MaskingConfig, choose_mask_positions, word_starts
from txdata.objectives.seq2seq import Seq2Seq

OBJECTIVES: dict[str, type] = {MaskedLM.name: MaskedLM, Seq2Seq.name: Seq2Seq}


def objective_class(name: str) -> type:
    if name not in OBJECTIVES:
        raise UnknownNameError(f"unknown mode {name!r}: choose {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[name]


__all__ = [
    "OBJECTIVES",
    "MaskedLM",
    "MaskingConfig",
    "Objective",
    "Rows",
    "Seq2Seq",
    "choose_mask_positions",
    "objective_class",
    "word_starts",
]
