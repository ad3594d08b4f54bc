"""Beanie adapters of the data-path ports: chunk index, data keys, pipeline figures."""

from __future__ import annotations

from typing import Any

from beanie import SortDirection, UpdateResponse
from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.mongo.documents import ChunkDocument, DataKeyDocument, StageDocument
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
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats, StageFigures

__all__ = ["BeanieChunkIndex", "BeanieDataKeyStore", "BeaniePipelineStats"]


class _Leaf(BaseModel):
    """Projection of the two fields the Merkle tree needs."""

    sequence_number: int
    leaf_hash: bytes


class BeanieChunkIndex(ChunkIndex):
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


class BeanieDataKeyStore(DataKeyStore):
    """Wrapped data keys by session id; `put_if_absent` is one atomic upsert."""

    async def get(self, session_id: str) -> WrappedKey | None:
        with storage_errors("read a data key"):
            document = await DataKeyDocument.get(session_id)
        return None if document is None else WrappedKey(document.key_id, bytes(document.wrapped))

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        with storage_errors("store a data key"):
            try:
                document = await DataKeyDocument.find_one({"_id": session_id}).update(
                    {"$setOnInsert": {"key_id": key.key_id, "wrapped": key.wrapped}},
                    upsert=True,
                    response_type=UpdateResponse.NEW_DOCUMENT,
                )
            except DuplicateKeyError:  # a racing upsert inserted it first: read the winner
                document = await DataKeyDocument.get(session_id)
        assert isinstance(document, DataKeyDocument)
        return WrappedKey(document.key_id, bytes(document.wrapped))

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        match = {"_id": session_id, "key_id": old.key_id, "wrapped": old.wrapped}
        with storage_errors("replace a data key"):
            result = await DataKeyDocument.find_one(match).update(
                {"$set": {"key_id": new.key_id, "wrapped": new.wrapped}}
            )
        return result is not None and getattr(result, "matched_count", 0) == 1

    async def all(self) -> list[tuple[str, WrappedKey]]:
        with storage_errors("list data keys"):
            by_id = [("_id", SortDirection.ASCENDING)]
            documents = await DataKeyDocument.find({}).sort(by_id).to_list()
        return [(d.id, WrappedKey(d.key_id, bytes(d.wrapped))) for d in documents]

    async def delete(self, session_id: str) -> None:
        with storage_errors("delete a data key"):
            await DataKeyDocument.find_one({"_id": session_id}).delete()


class BeaniePipelineStats(PipelineStats):
    """Stage totals; `record` adds with `$inc` upserts in one bulk write (no lost updates)."""

    async def record(self, session_id: str, figures: dict[str, StageFigures]) -> None:
        if not figures:
            return
        updates = []
        for stage, more in figures.items():
            change: dict[str, Any] = {
                "$inc": {
                    "processed": more.processed,
                    "failed": more.failed,
                    "bytes_in": more.bytes_in,
                    "bytes_out": more.bytes_out,
                    "seconds": float(more.seconds),
                },
                "$setOnInsert": {"session_id": session_id, "stage": stage},
            }
            if more.last_error is not None:
                change["$set"] = {"last_error": more.last_error}
            updates.append(UpdateOne({"_id": f"{session_id}:{stage}"}, change, upsert=True))
        with storage_errors("record pipeline figures"):
            await StageDocument.get_pymongo_collection().bulk_write(updates, ordered=False)

    async def get(self, session_id: str) -> dict[str, StageFigures]:
        with storage_errors("read pipeline figures"):
            documents = await StageDocument.find({"session_id": session_id}).to_list()
        return {
            d.stage: StageFigures(
                d.processed, d.failed, d.bytes_in, d.bytes_out, d.seconds, d.last_error
            )
            for d in documents
        }

    async def delete_session(self, session_id: str) -> None:
        with storage_errors("delete pipeline figures"):
            await StageDocument.find({"session_id": session_id}).delete()
