"""A folder built whole beside its name and put in place in one step, replacing only txdata's.

The folder grows in a hidden sibling, `.NAME.txdata-new-XXXX`, and takes its name when the work
is done, so a crash, Ctrl-C or kill leaves either the old folder or the new one at NAME, never
half of one. A folder already at NAME is replaced only when asked to, and only when the caller
has checked that it holds nothing but what txdata writes there.

Example (an export written whole or not at all)::

    with staged_folder(Path("exports/mlm"), overwrite=False, check_replaceable=check) as folder:
        write_everything_into(folder)  # exports/mlm appears only when this block ends
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from txdata.errors import OutputError, TxdataError
from txdata.files import exchange, fsync_directory, umask

STAGING = ".txdata-new-"  # `.NAME.txdata-new-XXXX`: a folder being written beside NAME


@contextmanager
def staged_folder(
    directory: Path,
    overwrite: bool,
    check_replaceable: Callable[[Path], None],
    ours: Callable[[Path], bool],
) -> Iterator[Path]:
    """A hidden sibling of `directory` to write in; when the block ends without an exception,
    it is at `directory`, and an old folder there (`overwrite`) is gone.

    `check_replaceable(directory)` raises unless a non-empty `directory` may be replaced;
    `ours(folder)` says whether a leftover staging folder holds only what txdata writes.
    """
    directory = Path(directory)
    if directory.is_symlink():
        raise OutputError(
            f"{directory} is a symbolic link to {os.readlink(directory)}: name a real folder"
        )
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory} is a file, not a folder")
    replacing = directory.exists() and any(directory.iterdir())
    if replacing:
        if not overwrite:
            raise OutputError(f"{directory} is not empty: pass --overwrite to replace it")
        check_replaceable(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        remove_staging_leftovers(directory, ours)
        staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}{STAGING}"))
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes it private; the folder is not
    except OSError as error:
        raise OutputError(f"cannot write {directory}: {error.strerror or error}") from None
    try:
        yield staging
        if replacing:
            exchange(staging, directory)  # the old folder is now at `staging`, removed below
        else:
            os.rename(staging, directory)  # over an empty folder, or where there was none
        fsync_directory(directory.parent)
    except OSError as error:
        raise OutputError(f"cannot write {directory}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_not_protected(directory: Path, kind: str, error: type[TxdataError]) -> None:
    """Refuse to replace a symbolic link, the current folder or one above it, or the home
    folder or one above it, whatever it holds; `kind` names what was asked for (`run`)."""
    if directory.is_symlink():
        raise error(
            f"{directory} is a symbolic link to {os.readlink(directory)}: "
            f"--overwrite replaces only a real {kind} directory; name the {kind} itself"
        )
    resolved, here = directory.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        where = "is" if resolved == here else "holds"
        raise error(f"{directory} {where} the current directory: choose another --out")
    home = Path.home().resolve()
    if resolved == home or resolved in home.parents or resolved == Path(resolved.anchor):
        raise error(f"{directory} is your home folder or above it: choose another --out")


def remove_staging_leftovers(directory: Path, ours: Callable[[Path], bool]) -> None:
    """Hidden folders that a kill left beside `directory`: txdata named them, and `ours`
    confirms that they hold only what txdata writes."""
    for leftover in directory.parent.glob(f".{directory.name}{STAGING}*"):
        if leftover.is_dir() and not leftover.is_symlink() and ours(leftover):
            shutil.rmtree(leftover, ignore_errors=True)


def listing(directory: Path, most: int = 4) -> str:
    """`a.txt, data/ and 3 more`: what a folder holds, for an error message."""
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in directory.iterdir())
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
