"""Chunk listing, details and authenticated reads of the original bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import anyio.to_thread

from lucid_sessions.app.blob_codec import BlobCodec
from lucid_sessions.app.usecases.common import check_page, load_visible
from lucid_sessions.domain.chunk import ChunkRecord, validate_sequence_number
from lucid_sessions.domain.errors import ChunkNotFound, CorruptChunk
from lucid_sessions.domain.merkle import blake3_256
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session

__all__ = ["MAX_CHUNK_PAGE", "ChunkReader"]

MAX_CHUNK_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ChunkReader:
    """Reads committed chunks only (sequence numbers below the session's chunks_count)."""

    repo: SessionRepository
    index: ChunkIndex
    blobs: BlobStore
    keys: DataKeyStore
    codec: BlobCodec

    async def session(self, principal: Principal, session_id: str) -> Session:
        return await load_visible(self.repo, principal, session_id)

    async def list(self, principal: Principal, query: ChunkQuery) -> ChunkPage:
        check_page(query.limit, query.offset, MAX_CHUNK_PAGE)
        session = await self.session(principal, query.session_id)
        return await self.index.find(replace(query, committed=session.chunks_count))

    async def record(self, principal: Principal, session_id: str, sequence: int) -> ChunkRecord:
        validate_sequence_number(sequence, "chunk_id")
        session = await self.session(principal, session_id)
        return await self.committed(session, sequence)

    async def committed(self, session: Session, sequence: int) -> ChunkRecord:
        if sequence >= session.chunks_count:
            raise ChunkNotFound(session.session_id, sequence)
        return await self.index.get(session.session_id, sequence)

    async def open(self, record: ChunkRecord) -> bytes:
        """The original bytes, authenticated (AEAD and BLAKE3) before they are returned."""
        sid, seq = record.session_id, record.sequence_number
        try:
            blob = await self.blobs.get(sid, seq)
        except ChunkNotFound:
            raise CorruptChunk(sid, seq, "its blob is missing") from None
        key = await self.keys.get(sid) if record.encrypted else None

        def decode() -> bytes:
            data = self.codec.open(session_id=sid, sequence_number=seq, blob=blob, data_key=key)
            if len(data) != record.size_bytes or blake3_256(data) != record.blake3:
                raise CorruptChunk(sid, seq, "its content does not match its BLAKE3 digest")
            return data

        return await anyio.to_thread.run_sync(decode)

    async def all_committed(self, session: Session, batch: int = 500) -> AsyncIterator[ChunkRecord]:
        for offset in range(0, session.chunks_count, batch):
            page = await self.index.find(
                ChunkQuery(session.session_id, session.chunks_count, limit=batch, offset=offset)
            )
            for record in page.chunks:
                yield record
