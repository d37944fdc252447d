"""What the guide's scripts share: training one setting over several seeds, and the
`median (low–high)` they report it as.

>>> spread([0.5, 0.25, 1.0], ".2f")
'0.50 (0.25–1.00)'
"""

from __future__ import annotations

import argparse
import statistics

import datasets


def spread(values: list[float], form: str) -> str:
    """`median (low–high)` of the values, each written with `form`; one value when all agree."""
    low, middle, high = min(values), statistics.median(values), max(values)
    if low == high:
        return format(middle, form)
    return f"{middle:{form}} ({low:{form}}–{high:{form}})"


def percent(values: list[float]) -> str:
    """Shares as `median (low–high) %`."""
    return spread([100 * value for value in values], ".1f") + " %"


def parse(description: str, *more: tuple[str, dict]) -> argparse.Namespace:
    """`--seeds` (0 1 2) and `--quick` (a tiny model, 4 steps, one seed; for the tests), and
    any `(flag, settings)` in `more`. Turns the datasets progress bars off."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="a tiny model, 4 steps, one seed")
    for flag, settings in more:
        parser.add_argument(flag, **settings)
    args = parser.parse_args()
    if args.quick:
        args.seeds = args.seeds[:1]
    datasets.disable_progress_bars()
    return args
