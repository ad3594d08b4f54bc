"""Chunk listing, details, and authenticated reads of a chunk's or a recording's bytes.

Every read that a client can ask for goes through `ReadChunks`, whose methods take the
principal and check that it may see the session. `ChunkOpener` is the reading machinery
underneath (no access check), shared with the background work (finalization, verification),
which decides on its own who may run it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from lucid_sessions.app.blob_codec import BlobCodec
from lucid_sessions.app.usecases.common import check_page, load_visible
from lucid_sessions.domain.chunk import ChunkRecord, validate_sequence_number
from lucid_sessions.domain.errors import ChunkNotFound, CorruptChunk, InvalidValue
from lucid_sessions.domain.merkle import blake3_256
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.ports.telemetry import Telemetry
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session

__all__ = ["MAX_CHUNK_PAGE", "PIECE", "ChunkFilter", "ChunkOpener", "Content", "ReadChunks"]

_log = logging.getLogger("lucid_sessions.chunks")

MAX_CHUNK_PAGE = 1000
PIECE = 256 * 1024
"""Size of the plaintext pieces a read yields (bounded memory per piece in flight)."""


@dataclass(frozen=True, slots=True)
class ChunkFilter:
    """What a client asks of a session's chunk list."""

    limit: int = 100
    offset: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None


class ChunkOpener:
    """Committed chunk records and their authenticated plaintext; no access check."""

    def __init__(
        self,
        index: ChunkIndex,
        blobs: BlobStore,
        keys: DataKeyStore,
        codec: BlobCodec,
        telemetry: Telemetry,
    ) -> None:
        self._index, self._blobs, self._keys, self._codec = index, blobs, keys, codec
        self._telemetry = telemetry

    async def plaintext(self, record: ChunkRecord) -> bytes:
        """The original bytes, authenticated (AEAD, then BLAKE3) before they are returned;
        `CorruptChunk` when the blob is missing or fails a check (logged and counted)."""
        try:
            return await self._plaintext(record)
        except CorruptChunk as exc:
            self._telemetry.chunk_corrupt()
            _log.error(
                "chunk_corrupt",
                extra={
                    "session_id": record.session_id,
                    "sequence_number": record.sequence_number,
                    "error": exc.detail,
                },
            )
            raise

    async def _plaintext(self, record: ChunkRecord) -> bytes:
        sid, seq = record.session_id, record.sequence_number
        try:
            blob = await self._blobs.get(sid, seq)
        except ChunkNotFound:
            raise CorruptChunk(sid, seq, "its blob is missing") from None
        key = await self._keys.get(sid) if record.encrypted else None

        def decode() -> bytes:
            data = self._codec.open(session_id=sid, sequence_number=seq, blob=blob, data_key=key)
            if len(data) != record.size_bytes or blake3_256(data) != record.blake3:
                raise CorruptChunk(sid, seq, "its content does not match its BLAKE3 digest")
            return data

        return await anyio.to_thread.run_sync(decode)

    async def committed(self, session: Session, batch: int = 500) -> AsyncIterator[ChunkRecord]:
        """Every committed record of `session` (below its chunks_count), in order."""
        for offset in range(0, session.chunks_count, batch):
            query = ChunkQuery(session.session_id, session.chunks_count, batch, offset)
            page = await self._index.find(query)
            for record in page.chunks:
                yield record

    async def committed_list(self, session: Session) -> list[ChunkRecord]:
        return [record async for record in self.committed(session)]


Pieces = Callable[[int, int], Awaitable[AsyncIterator[bytes]]]


class Content:
    """Bytes a principal was allowed to read: what they are (a session's chunk, or its whole
    recording when `sequence_number` is None), a `version` that changes whenever the bytes
    could (the chunk's BLAKE3, or the recording's root and size), the length, and the
    plaintext of any byte range. `final`: these bytes can no longer change (a recording that
    can still grow is not final: a client must not keep them, even by range, as they are)."""

    __slots__ = ("_pieces", "final", "sequence_number", "session_id", "size", "version")

    def __init__(
        self,
        session_id: str,
        sequence_number: int | None,
        version: str,
        size: int,
        pieces: Pieces,
        *,
        final: bool = True,
    ) -> None:
        self.session_id, self.sequence_number = session_id, sequence_number
        self.version, self.size, self._pieces = version, size, pieces
        self.final = final

    async def read(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The plaintext of bytes [start, end) in pieces of at most PIECE bytes.

        The first chunk involved is authenticated before this returns, so a corrupt or
        missing blob raises CorruptChunk here, before a byte is handed out.
        """
        end = self.size if end is None else end
        if not 0 <= start <= end <= self.size:
            raise InvalidValue("range", f"must lie within the {self.size} bytes of the content")
        return await self._pieces(start, end)


def _slices(data: bytes, start: int, end: int) -> AsyncIterator[bytes]:
    async def pieces() -> AsyncIterator[bytes]:
        view = memoryview(data)
        for offset in range(start, end, PIECE):
            yield bytes(view[offset : min(offset + PIECE, end)])

    return pieces()


@dataclass(frozen=True, slots=True)
class _Slice:
    record: ChunkRecord
    start: int
    end: int


def _plan(records: list[ChunkRecord], start: int, end: int) -> list[_Slice]:
    """The slice of each chunk that overlaps bytes [start, end) of the recording."""
    plan: list[_Slice] = []
    offset = 0
    for record in records:
        low, high = offset, offset + record.size_bytes
        if high > start and low < end:
            plan.append(_Slice(record, max(start, low) - low, min(end, high) - low))
        offset = high
        if offset >= end:
            break
    return plan


class ReadChunks:
    """Reads of committed chunks only (sequence numbers below the session's chunks_count),
    each after checking that the principal may see the session."""

    def __init__(self, repo: SessionRepository, opener: ChunkOpener, index: ChunkIndex) -> None:
        self._repo, self._opener, self._index = repo, opener, index

    async def session(self, principal: Principal, session_id: str) -> Session:
        return await load_visible(self._repo, principal, session_id)

    async def list(self, principal: Principal, session_id: str, wanted: ChunkFilter) -> ChunkPage:
        check_page(wanted.limit, wanted.offset, MAX_CHUNK_PAGE)
        session = await self.session(principal, session_id)
        query = ChunkQuery(
            session.session_id,
            session.chunks_count,
            wanted.limit,
            wanted.offset,
            wanted.start_time,
            wanted.end_time,
        )
        return await self._index.find(query)

    async def record(self, principal: Principal, session_id: str, sequence: int) -> ChunkRecord:
        validate_sequence_number(sequence, "chunk_id")
        session = await self.session(principal, session_id)
        if sequence >= session.chunks_count:
            raise ChunkNotFound(session.session_id, sequence)
        return await self._index.get(session.session_id, sequence)

    async def chunk(self, principal: Principal, session_id: str, sequence: int) -> Content:
        """One chunk's original bytes."""
        record = await self.record(principal, session_id, sequence)

        async def pieces(start: int, end: int) -> AsyncIterator[bytes]:
            return _slices(await self._opener.plaintext(record), start, end)

        return Content(
            record.session_id,
            record.sequence_number,
            record.blake3.hex(),
            record.size_bytes,
            pieces,
        )

    async def recording(self, principal: Principal, session_id: str) -> Content:
        """Every committed chunk's original bytes, concatenated in order."""
        session = await self.session(principal, session_id)
        opener = self._opener

        async def pieces(start: int, end: int) -> AsyncIterator[bytes]:
            plan = _plan(await opener.committed_list(session), start, end)
            first = await opener.plaintext(plan[0].record) if plan else b""

            async def stream(first: bytes) -> AsyncIterator[bytes]:
                for index, part in enumerate(plan):
                    data = first if index == 0 else await opener.plaintext(part.record)
                    first = b""
                    async for piece in _slices(data, part.start, part.end):
                        yield piece
                    del data

            return stream(first)

        root = session.merkle_root.hex() if session.merkle_root else "empty"
        version = f"{root}-{session.chunks_count}"
        return Content(
            session.session_id,
            None,
            version,
            session.size_bytes,
            pieces,
            final=not session.can_grow,
        )
