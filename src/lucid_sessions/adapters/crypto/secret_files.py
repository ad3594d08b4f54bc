"""Secret files: written atomically with mode 0600, durable, safe against concurrent starts;
read only when no other user may read them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "LooseSecretFile",
    "exclusive_lock",
    "fsync_directory",
    "read_secret_file",
    "write_public_file",
    "write_secret_file",
]

_log = logging.getLogger("lucid_sessions.secrets")


class LooseSecretFile(Exception):
    """A secret file other users may read or write (production refuses to read it)."""


def read_secret_file(path: Path, setting: str, *, production: bool) -> bytes:
    """The bytes of a secret file whose mode is 0600 or stricter.

    A file that group or others may access is refused in production (`LooseSecretFile`, with
    the `chmod` that fixes it) and read with a warning in development. `OSError` when it
    cannot be read at all.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        if production:
            raise LooseSecretFile(
                f"{setting}: the file has mode {mode:04o}, so other users can read it; "
                f"run chmod 600 on it (production reads secrets only from private files)"
            )
        _log.warning(
            "secret_file_not_private",
            extra={"setting": setting, "mode": f"{mode:04o}", "fix": "chmod 600"},
        )
    return path.read_bytes()


def write_secret_file(path: Path, content: bytes, *, replace: bool) -> bool:
    """Write `content` to `path` atomically with mode 0600 (the directory is made 0700).

    A temporary file in the same directory is written and fsynced, then renamed over `path`
    (`replace=True`) or hard-linked to `path` only if absent (`replace=False`, so two processes
    starting at once keep one key). Returns whether `path` now holds `content`.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _write_durably(path, content, mode=0o600, replace=replace)


def write_public_file(path: Path, content: bytes) -> None:
    """Write `content` (nothing secret) over `path` atomically and durably, mode 0644, in a
    folder that exists: as `write_secret_file` writes, readable by all."""
    _write_durably(path, content, mode=0o644, replace=True)


def _write_durably(path: Path, content: bytes, *, mode: int, replace: bool) -> bool:
    """A temporary file beside `path` with `mode`, fsynced, then published (`_publish`) and
    the folder fsynced; whether `path` now holds `content`."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        written = _publish(temporary, path, replace=replace)
        fsync_directory(path.parent)
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


def fsync_directory(directory: Path) -> None:
    """Make the folder's entries (a rename, a new link) durable."""
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
