"""InMemoryBlobStore: the fake of the blob store."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.blob_store import BlobStore

__all__ = ["InMemoryBlobStore"]


class InMemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self._blobs: dict[tuple[str, int], bytes] = {}

    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None:
        await checkpoint()
        self._blobs[(session_id, sequence_number)] = bytes(blob)

    async def get(self, session_id: str, sequence_number: int) -> bytes:
        await checkpoint()
        try:
            return self._blobs[(session_id, sequence_number)]
        except KeyError:
            raise ChunkNotFound(session_id, sequence_number) from None

    async def delete_session(self, session_id: str) -> None:
        await checkpoint()
        for key in [k for k in self._blobs if k[0] == session_id]:
            del self._blobs[key]
