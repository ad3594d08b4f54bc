"""MongoChunkIndex: chunk metadata in MongoDB."""

from __future__ import annotations

from typing import Any

from beanie import SortDirection
from pydantic import BaseModel

from lucid_sessions.adapters.mongo.documents import ChunkDocument
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.adapters.mongo.mapping import (
    chunk_from_document,
    chunk_id,
    chunk_to_document,
    epoch_micros,
)
from lucid_sessions.domain.chunk import ChunkRecord
from lucid_sessions.domain.errors import ChunkNotFound
from lucid_sessions.domain.ports.chunk_index import ChunkIndex, ChunkPage, ChunkQuery

__all__ = ["MongoChunkIndex"]


class _Leaf(BaseModel):
    """Projection of the two fields the Merkle tree needs."""

    sequence_number: int
    leaf_hash: bytes


class MongoChunkIndex(ChunkIndex):
    """Chunk metadata; unique (session_id, sequence_number), `put` is an atomic upsert."""

    async def put(self, record: ChunkRecord) -> None:
        with storage_errors("store chunk metadata"):
            await chunk_to_document(record).save()

    async def get(self, session_id: str, sequence_number: int) -> ChunkRecord:
        with storage_errors("read chunk metadata"):
            document = await ChunkDocument.get(chunk_id(session_id, sequence_number))
        if document is None:
            raise ChunkNotFound(session_id, sequence_number)
        return chunk_from_document(document)

    async def find(self, query: ChunkQuery) -> ChunkPage:
        match: dict[str, Any] = {
            "session_id": query.session_id,
            "sequence_number": {"$lt": query.committed},
        }
        timestamp: dict[str, int] = {}
        if query.start_time is not None:
            timestamp["$gte"] = epoch_micros(query.start_time)
        if query.end_time is not None:
            timestamp["$lt"] = epoch_micros(query.end_time)
        if timestamp:
            match["timestamp_us"] = timestamp
        with storage_errors("list chunks"):
            total = await ChunkDocument.find(match).count()
            documents = (
                await ChunkDocument.find(match)
                .sort([("sequence_number", SortDirection.ASCENDING)])
                .skip(query.offset)
                .limit(query.limit)
                .to_list()
            )
        return ChunkPage([chunk_from_document(d) for d in documents], total)

    async def leaf_hashes(self, session_id: str, count: int) -> list[bytes]:
        if count <= 0:
            return []
        with storage_errors("read leaf hashes"):
            leaves = (
                await ChunkDocument.find(
                    {"session_id": session_id, "sequence_number": {"$lt": count}}
                )
                .sort([("sequence_number", SortDirection.ASCENDING)])
                .project(_Leaf)
                .to_list()
            )
        for expected, leaf in enumerate(leaves):
            if leaf.sequence_number != expected:
                raise ChunkNotFound(session_id, expected)
        if len(leaves) < count:
            raise ChunkNotFound(session_id, len(leaves))
        return [bytes(leaf.leaf_hash) for leaf in leaves]

    async def delete_session(self, session_id: str) -> None:
        with storage_errors("delete chunk metadata"):
            await ChunkDocument.find({"session_id": session_id}).delete()
