"""In-memory fakes of the data-path ports."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = [
    "InMemoryBlobStore",
    "InMemoryChunkIndex",
    "InMemoryDataKeyStore",
    "InMemoryPipelineStats",
]


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


class InMemoryDataKeyStore(DataKeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, WrappedKey] = {}

    async def get(self, session_id: str) -> WrappedKey | None:
        await checkpoint()
        return self._keys.get(session_id)

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        await checkpoint()
        return self._keys.setdefault(session_id, key)

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        await checkpoint()
        if self._keys.get(session_id) != old:
            return False
        self._keys[session_id] = new
        return True

    async def all(self) -> list[tuple[str, WrappedKey]]:
        await checkpoint()
        return sorted(self._keys.items())

    async def delete(self, session_id: str) -> None:
        await checkpoint()
        self._keys.pop(session_id, None)


class InMemoryPipelineStats(PipelineStats):
    def __init__(self) -> None:
        self._figures: dict[str, dict[str, StageFigures]] = {}

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        await checkpoint()
        stored = self._figures.setdefault(session_id, {})
        for stage, more in figures.items():
            stored[stage] = stored.get(stage, StageFigures()).plus(more)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        await checkpoint()
        return dict(self._figures.get(session_id, {}))

    async def delete_session(self, session_id: str) -> None:
        await checkpoint()
        self._figures.pop(session_id, None)
