"""FilesystemBlobStore: one file per sealed chunk, written atomically and durably.

Layout: ROOT/<shard>/<session_id>/<sequence:012d>.lsb, where <shard> is the first two hex
digits of BLAKE3(session_id), so no folder grows past a few thousand entries. Paths are
built only from validated ids. A write goes to a hidden temporary file in the same folder,
is fsynced, renamed over the target, and the folder is fsynced: a crash leaves the old blob
or the new one, never a part.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from pathlib import Path

import anyio.to_thread
import blake3

from lucid_sessions.domain.chunk import validate_sequence_number
from lucid_sessions.domain.errors import ChunkNotFound, StorageFull, StorageUnavailable
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.session import validate_id

__all__ = ["FilesystemBlobStore"]

SUFFIX = ".lsb"
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self._root = root

    def session_dir(self, session_id: str) -> Path:
        validate_id(session_id)
        shard = blake3.blake3(session_id.encode()).hexdigest()[:2]
        return self._root / shard / session_id

    def blob_path(self, session_id: str, sequence_number: int) -> Path:
        validate_sequence_number(sequence_number)
        return self.session_dir(session_id) / f"{sequence_number:012d}{SUFFIX}"

    def _ensure_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_dir(folder.parent)
        _fsync_dir(folder.parent.parent)

    def _write(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        target = self.blob_path(session_id, sequence_number)
        self._ensure_dir(target.parent)
        temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def _read(self, session_id: str, sequence_number: int) -> bytes:
        try:
            return self.blob_path(session_id, sequence_number).read_bytes()
        except FileNotFoundError:
            raise ChunkNotFound(session_id, sequence_number) from None

    def _remove(self, session_id: str) -> None:
        folder = self.session_dir(session_id)
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.is_dir():
            _fsync_dir(folder.parent)

    def sweep_temporaries(self, older_than_seconds: float = 600.0) -> int:
        """Remove temporary files left by a crash mid-write (never visible as blobs);
        only those older than `older_than_seconds`, so a concurrent writer is not harmed."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for temporary in self._root.glob("*/*/.*.tmp"):
            try:
                if temporary.stat().st_mtime < cutoff:
                    temporary.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        try:
            await anyio.to_thread.run_sync(self._write, session_id, sequence_number, blob)
        except OSError as exc:
            if exc.errno in _FULL:
                raise StorageFull("the chunk store is full; nothing was stored") from exc
            raise StorageUnavailable(f"cannot store chunk blobs: {exc.strerror}") from exc

    async def get(self, session_id: str, sequence_number: int) -> bytes:
        try:
            return await anyio.to_thread.run_sync(self._read, session_id, sequence_number)
        except OSError as exc:
            raise StorageUnavailable(f"cannot read chunk blobs: {exc.strerror}") from exc

    async def delete_session(self, session_id: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._remove, session_id)
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete chunk blobs: {exc.strerror}") from exc
