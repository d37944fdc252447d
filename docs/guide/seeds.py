"""What the guide's scripts share: training one setting over several seeds, and the
`median (low–high)` they report it as.

>>> spread([0.5, 0.25, 1.0], ".2f")
'0.50 (0.25–1.00)'
"""

from __future__ import annotations

import statistics


def spread(values: list[float], form: str) -> str:
    """`median (low–high)` of the values, each written with `form`; one value when all agree."""
    low, middle, high = min(values), statistics.median(values), max(values)
    if low == high:
        return format(middle, form)
    return f"{middle:{form}} ({low:{form}}–{high:{form}})"


def percent(values: list[float]) -> str:
    """Shares as `median (low–high) %`."""
    return spread([100 * value for value in values], ".1f") + " %"
