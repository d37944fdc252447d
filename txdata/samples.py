"""The corpora bundled in `samples/`, found both in a source checkout and after `pip install .`.

>>> sorted(sample_names())
['english', 'numbers']
"""

from __future__ import annotations

from pathlib import Path

from txdata.errors import UnknownNameError

DATA_SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".parquet")


def samples_dir() -> Path:
    # A wheel carries the corpora inside the package (see pyproject.toml); a checkout has them
    # at the top level, beside the package.
    packaged = Path(__file__).parent / "sample_data"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "samples"


def sample_names() -> list[str]:
    return sorted(path.parent.name for path in _data_files())


def sample_path(name: str) -> Path:
    """`sample_path("english")` is `.../samples/english/english.txt`."""
    for path in _data_files():
        if path.parent.name == name:
            return path
    known = ", ".join(f"sample:{known}" for known in sample_names())
    raise UnknownNameError(f"unknown sample {name!r}: choose {known}")


def _data_files() -> list[Path]:
    return sorted(
        path
        for path in samples_dir().glob("*/*")
        if path.suffix in DATA_SUFFIXES and path.is_file()
    )
