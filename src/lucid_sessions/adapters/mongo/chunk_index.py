"""MongoChunkIndex: chunk records in MongoDB; unique (session_id, sequence_number)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery

__all__ = ["MongoChunkIndex", "chunk_id"]

Collection = AsyncCollection[dict[str, Any]]

_IN_ORDER = [("sequence_number", ASCENDING)]


def chunk_id(session_id: str, sequence_number: int) -> str:
    return f"{session_id}:{sequence_number:013d}"


class MongoChunkIndex(ChunkIndex):
    """Chunk records in the `chunks` collection (see `documents`); `put` is an atomic upsert."""

    def __init__(self, collection: Collection) -> None:
        self._chunks = collection

    async def put(self, record: ChunkRecord) -> None:
        key = chunk_id(record.session_id, record.sequence_number)
        document = to_native(record)
        document["_id"] = key
        with storage_errors("store chunk metadata"):
            await self._chunks.replace_one({"_id": key}, document, upsert=True)

    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        with storage_errors("read chunk metadata"):
            document = await self._chunks.find_one({"_id": chunk_id(session_id, sequence_number)})
        if document is None:
            raise ChunkNotFound(session_id, sequence_number)
        return from_native(document, ChunkRecord)

    async def find(self, query: ChunkQuery) -> ChunkPage:
        match: dict[str, Any] = {
            "session_id": query.session_id,
            "sequence_number": {"$lt": query.committed},
        }
        timestamp: dict[str, Any] = {}
        if query.start_time is not None:
            timestamp["$gte"] = query.start_time
        if query.end_time is not None:
            timestamp["$lt"] = query.end_time
        if timestamp:
            match["timestamp"] = timestamp
        with storage_errors("list chunks"):
            total = await self._chunks.count_documents(match)
            cursor = self._chunks.find(match).sort(_IN_ORDER).skip(query.offset).limit(query.limit)
            documents = await cursor.to_list()
        return ChunkPage([from_native(d, ChunkRecord) for d in documents], total)

    async def leaf_hashes(self, session_id: str, count: int) -> list[bytes]:
        if count <= 0:
            return []
        match = {"session_id": session_id, "sequence_number": {"$lt": count}}
        wanted = {"_id": 0, "sequence_number": 1, "leaf_hash": 1}
        with storage_errors("read leaf hashes"):
            leaves = await self._chunks.find(match, wanted).sort(_IN_ORDER).to_list()
        for expected, leaf in enumerate(leaves):
            if leaf["sequence_number"] != expected:
                raise ChunkNotFound(session_id, expected)
        if len(leaves) < count:
            raise ChunkNotFound(session_id, len(leaves))
        return [bytes(leaf["leaf_hash"]) for leaf in leaves]

    async def delete_session(self, session_id: str) -> None:
        with storage_errors("delete chunk metadata"):
            await self._chunks.delete_many({"session_id": session_id})
