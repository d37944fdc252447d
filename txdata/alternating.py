"""The alternating sequence `1 0 1 0 …`, the seed exercise of this project, cut into windows.

The sequence repeats a pattern forever; window i starts at symbol `offset + i`.

>>> alternating_windows("1 0", window=4, count=3)
['1 0 1 0', '0 1 0 1', '1 0 1 0']
>>> alternating_pairs("1 1 0", window=4, count=2, task="shift")
(['1 1 0 1', '1 0 1 1'], ['1 0 1 1', '0 1 1 0'])
>>> alternating_pairs("1 1 0", window=4, count=1, task="continue", horizon=2)
(['1 1 0 1'], ['1 0'])
"""

from __future__ import annotations

from txdata.errors import ConfigError, UnknownNameError

TASKS = ("shift", "continue")
"""shift: the target is the window one step later. continue: the target is the next symbols."""


def alternating_symbols(pattern: str, start: int, length: int) -> list[str]:
    symbols = pattern.split()
    if not symbols:
        raise ConfigError("the pattern is empty: give symbols separated by spaces, e.g. '1 0'")
    return [symbols[(start + i) % len(symbols)] for i in range(length)]


def alternating_windows(pattern: str, window: int, count: int, offset: int = 0) -> list[str]:
    return [" ".join(alternating_symbols(pattern, offset + i, window)) for i in range(count)]


def alternating_pairs(
    pattern: str,
    window: int,
    count: int,
    offset: int = 0,
    task: str = "shift",
    horizon: int = 4,
) -> tuple[list[str], list[str]]:
    """Source windows and their targets for seq2seq."""
    if task not in TASKS:
        raise UnknownNameError(f"unknown task {task!r}: choose {', '.join(TASKS)}")
    sources = alternating_windows(pattern, window, count, offset)
    if task == "shift":
        targets = alternating_windows(pattern, window, count, offset + 1)
    else:
        starts = range(offset + window, offset + window + count)
        targets = [" ".join(alternating_symbols(pattern, start, horizon)) for start in starts]
    return sources, targets
