"""Health of the storage when chunk blobs live in S3: the local data folder (keys in
development, the embedded database when there is one) must be writable and the bucket must
answer. Usage is the local folder's: an object store has no free space to report."""

from __future__ import annotations

from lucid_sessions.adapters.fs.storage_probe import FilesystemStorageProbe
from lucid_sessions.adapters.s3.blob_store import S3BlobStore
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.usage_probe import StorageUsage, UsageProbe

__all__ = ["S3StorageProbe"]


class S3StorageProbe(HealthProbe, UsageProbe):
    def __init__(self, folders: FilesystemStorageProbe, blobs: S3BlobStore) -> None:
        self._folders, self._blobs = folders, blobs

    async def ping(self) -> bool:
        return await self._folders.ping() and await self._blobs.ping()

    async def usage(self) -> StorageUsage:
        return await self._folders.usage()
