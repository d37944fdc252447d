"""Sizes no machine can hold are refused before anything is allocated, with what they need.

>>> human(10**12 * 10 * 16)
'145.5 TiB'
>>> check_fits("a table of 10 tokens", 10 * 8)  # fits: says nothing
"""

from __future__ import annotations

import os

from txdata.errors import ConfigError

FALLBACK = 64 * 2**30  # where the system does not say how much memory it has


def physical_memory() -> int:
    """Bytes of memory this machine has."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return FALLBACK


def check_fits(what: str, nbytes: int) -> None:
    """Refuse `what` when it would need more bytes than the machine has memory."""
    available = physical_memory()
    if nbytes > available:
        raise ConfigError(
            f"{what} would need about {human(nbytes)} of memory; "
            f"this machine has {human(available)}"
        )


def human(nbytes: float) -> str:
    """`145.5 PiB`: bytes in the largest binary unit that keeps the number above 1."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if nbytes < 1024 or unit == "EiB":
            return f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")
