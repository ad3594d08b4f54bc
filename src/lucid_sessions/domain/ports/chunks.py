"""Ports of the recording data path: chunk metadata, blobs, data keys, pipeline figures."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.ports.crypto import WrappedKey

__all__ = [
    "BlobStore",
    "ChunkIndex",
    "ChunkPage",
    "ChunkQuery",
    "DataKeyStore",
    "PipelineStats",
    "StageFigures",
]


@dataclass(frozen=True, slots=True)
class ChunkQuery:
    """Chunks of one session below `committed` (the session's chunks_count), in order."""

    session_id: str
    committed: int
    limit: int = 100
    offset: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChunkPage:
    chunks: list[ChunkRecord]
    total: int


class ChunkIndex(Protocol):
    """Chunk metadata keyed by (session_id, sequence_number).

    A record is *committed* once the session's chunks_count passes its sequence number (the
    session aggregate is the commit point). `put` upserts, so a crashed, unacknowledged
    upload can be redone with other bytes; callers never `put` a committed sequence number.
    """

    @abc.abstractmethod
    async def put(self, record: ChunkRecord) -> None: ...

    @abc.abstractmethod
    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        """The record, or ChunkNotFound."""

    @abc.abstractmethod
    async def find(self, query: ChunkQuery) -> ChunkPage:
        """Records with sequence_number < committed, filtered by timestamp, in order."""

    @abc.abstractmethod
    async def leaf_hashes(self, session_id: str, count: int) -> list[bytes]:
        """The leaf hashes of sequence numbers 0..count-1, in order."""

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...


class BlobStore(Protocol):
    """Sealed chunk blobs keyed by session id and sequence number; knows nothing of paths.

    `put` is atomic (a reader sees the old blob or the new one, never a part) and durable on
    return. `get` raises ChunkNotFound for a missing blob.
    """

    @abc.abstractmethod
    async def put(self, session_id: str, sequence_number: int, blob: bytes) -> None: ...

    @abc.abstractmethod
    async def get(self, session_id: str, sequence_number: int) -> bytes: ...

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...


class DataKeyStore(Protocol):
    """Each session's data key, stored only wrapped by a master key."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> WrappedKey | None: ...

    @abc.abstractmethod
    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        """Store `key` unless one exists; return the key that is stored (race-safe)."""

    @abc.abstractmethod
    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        """Compare-and-swap (key rotation): True when `old` was stored and is now `new`."""

    @abc.abstractmethod
    async def all(self) -> list[tuple[str, WrappedKey]]: ...

    @abc.abstractmethod
    async def delete(self, session_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class StageFigures:
    processed: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    last_error: str | None = None


class PipelineStats(Protocol):
    """Measured figures per session and pipeline stage, recorded where the work happens."""

    @abc.abstractmethod
    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        """Add each stage's figures to the stored totals (last_error replaces when given)."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> dict[str, StageFigures]: ...

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...
