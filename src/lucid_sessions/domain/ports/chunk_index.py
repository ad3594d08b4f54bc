"""Port: chunk metadata of every session, keyed by (session_id, sequence_number)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lucid_sessions.domain.chunk import ChunkRecord

__all__ = ["ChunkIndex", "ChunkPage", "ChunkQuery"]


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
        """The leaf hashes of sequence numbers 0..count-1, in order (ChunkNotFound on a gap)."""

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None: ...
