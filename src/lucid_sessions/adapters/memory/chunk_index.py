"""InMemoryChunkIndex: the fake of the chunk index."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery

__all__ = ["InMemoryChunkIndex"]


class InMemoryChunkIndex(ChunkIndex):
    def __init__(self) -> None:
        self._items: dict[str, dict[int, ChunkRecord]] = {}

    async def put(self, record: ChunkRecord) -> None:
        await checkpoint()
        self._items.setdefault(record.session_id, {})[record.sequence_number] = record

    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        await checkpoint()
        try:
            return self._items[session_id][sequence_number]
        except KeyError:
            raise ChunkNotFound(session_id, sequence_number) from None

    async def find(self, query: ChunkQuery) -> ChunkPage:
        await checkpoint()
        records = self._items.get(query.session_id, {})
        found = [
            records[n]
            for n in sorted(records)
            if n < query.committed
            and (query.start_time is None or records[n].timestamp >= query.start_time)
            and (query.end_time is None or records[n].timestamp < query.end_time)
        ]
        return ChunkPage(found[query.offset : query.offset + query.limit], len(found))

    async def leaf_hashes(self, session_id: str, count: int) -> list[bytes]:
        await checkpoint()
        records = self._items.get(session_id, {})
        try:
            return [records[n].leaf_hash for n in range(count)]
        except KeyError as exc:
            raise ChunkNotFound(session_id, int(exc.args[0])) from None

    async def delete_session(self, session_id: str) -> None:
        await checkpoint()
        self._items.pop(session_id, None)
