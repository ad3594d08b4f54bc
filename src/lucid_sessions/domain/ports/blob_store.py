"""Port: sealed chunk blobs, keyed by session id and sequence number."""

from __future__ import annotations

import abc
from typing import Protocol

__all__ = ["BlobStore"]


class BlobStore(Protocol):
    """Sealed chunk blobs keyed by session id and sequence number; knows nothing of paths, so
    it can live on a filesystem or an object store (write once, read whole, delete).

    `put` is atomic (a reader sees the old blob or the new one, never a part) and durable on
    return. `get` raises ChunkNotFound for a missing blob. An unreachable or failing store
    raises StorageUnavailable.
    """

    @abc.abstractmethod
    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None: ...

    @abc.abstractmethod
    async def get(self, session_id: str, sequence_number: int) -> bytes: ...

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...
