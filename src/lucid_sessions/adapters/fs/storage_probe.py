"""Health and usage of a storage folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio.to_thread

from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe

__all__ = ["FilesystemStorageProbe"]


class FilesystemStorageProbe(HealthProbe, UsageProbe):
    """Healthy when every folder exists and is writable by this process; `usage` is the
    space of the first folder's file system."""

    def __init__(self, *folders: Path) -> None:
        self._folders = folders

    def _writable(self) -> bool:
        return all(f.is_dir() and os.access(f, os.W_OK | os.X_OK) for f in self._folders)

    async def ping(self) -> bool:
        try:
            return await anyio.to_thread.run_sync(self._writable)
        except OSError:
            return False

    async def usage(self) -> StorageUsage:
        total = await anyio.to_thread.run_sync(shutil.disk_usage, self._folders[0])
        return StorageUsage(free_bytes=total.free, used_bytes=total.used)
