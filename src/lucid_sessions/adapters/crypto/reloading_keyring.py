"""A key ring that follows its key file: a rotation done by `lucid-sessions keys rotate`
reaches a running server without a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from lucid_sessions.adapters.crypto.keyring import (
    KeySources,
    StaticKeyRing,
    load_master_keys,
    master_key_file_path,
)
from lucid_sessions.domain.ports.keyring import KeyRing, WrappedKey

__all__ = ["ReloadingKeyRing"]


def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What changes when the key file is rewritten: rotation replaces it by a rename (a new
    inode), so a change is seen even within one tick of the file system's clock."""
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


class ReloadingKeyRing(KeyRing):
    """Delegates to a StaticKeyRing that is reloaded when the key file changes."""

    def __init__(
        self, sources: KeySources, data_dir: Path, production: bool, *, generate: bool = True
    ) -> None:
        self._load: Callable[[], StaticKeyRing] = lambda: load_master_keys(
            sources, data_dir, production, generate=generate
        )
        self._ring = self._load()
        self._path = master_key_file_path(sources, data_dir)
        self._seen = _stamp(self._path)
        self._lock = threading.Lock()

    def _current(self) -> StaticKeyRing:
        stamp = _stamp(self._path)
        if stamp != self._seen:
            with self._lock:
                if stamp != self._seen:
                    self._ring = self._load()
                    self._seen = stamp
        return self._ring

    @property
    def current_key_id(self) -> str:
        return self._current().current_key_id

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        return self._current().new_data_key()

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        return self._current().unwrap(wrapped)

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        return self._current().rewrap(wrapped)
