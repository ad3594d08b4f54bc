"""Secret files: written atomically with mode 0600, durable, safe against concurrent starts."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["exclusive_lock", "write_secret_file"]


def write_secret_file(path: Path, content: bytes, *, replace: bool) -> bool:
    """Write `content` to `path` atomically with mode 0600 (the directory is made 0700).

    A temporary file in the same directory is written and fsynced, then renamed over `path`
    (`replace=True`) or hard-linked to `path` only if absent (`replace=False`, so two processes
    starting at once keep one key). Returns whether `path` now holds `content`.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        written = _publish(temporary, path, replace=replace)
        _fsync_directory(path.parent)
        return written
    finally:
        temporary.unlink(missing_ok=True)


def _publish(temporary: Path, path: Path, *, replace: bool) -> bool:
    if replace:
        temporary.replace(path)
        return True
    try:
        path.hardlink_to(temporary)
    except FileExistsError:
        return False
    return True


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Serialise rotations of one key file (a lost update would lose a master key)."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
