"""Writing files so that a crash, Ctrl-C or kill -9 never leaves half of one behind.

Every write goes to a temporary name in the same folder, is flushed to disk, and is renamed
over its real name in one step: a reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from txdata.errors import OutputError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed over `path` in one step if the block succeeds.

    Example (a figure saved whole or not at all)::

        with atomic_path(Path("run/curves.png")) as temporary:
            figure.savefig(temporary)
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory; name a file instead")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputError(f"cannot write {path}: {blocking} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputError(f"cannot write {path}: {_reason(error)}") from None
    os.close(fd)
    try:
        yield Path(temporary)
        fsync_file(Path(temporary))
        os.chmod(temporary, 0o666 & ~umask())  # mkstemp makes it private; files are not
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {_reason(error)}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_file(path: Path) -> None:
    """Flush a finished file to the disk, so that a rename after it never exposes lost data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """Make the renames inside a folder durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a folder; the renames still happened
    finally:
        os.close(fd)


def exchange(first: Path, second: Path) -> None:
    """Swap two folders' names. On Linux in one step (`renameat2(RENAME_EXCHANGE)`), so a kill
    at any instant leaves each name holding a whole folder; elsewhere by three renames.

    Example: `exchange(Path(".run.txdata-new-x1"), Path("run"))` puts the new run at `run`
    and the old one at `.run.txdata-new-x1`.
    """
    if _renameat2_exchange(first, second):
        fsync_directory(second.parent)
        return
    aside = Path(tempfile.mkdtemp(dir=second.parent, prefix=f".{second.name}.txdata-old-"))
    aside.rmdir()
    os.rename(second, aside)
    os.rename(first, second)
    os.rename(aside, first)
    fsync_directory(second.parent)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2_exchange(first: Path, second: Path) -> bool:
    """True when the kernel swapped the two names; False where renameat2 is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel, or a file system without the flag
    raise OSError(code, os.strerror(code), str(second))


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_dir() -> Path:
    """Where txdata keeps what it can rebuild (trained tokenizers): `$TXDATA_CACHE` or ~/.cache."""
    return Path(os.environ.get("TXDATA_CACHE", Path.home() / ".cache" / "txdata"))
