"""MongoSessionLog: the session log in MongoDB; `_id` is the entry's index."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.session_log import LogEntry

__all__ = ["MongoSessionLog"]

Collection = AsyncCollection[dict[str, Any]]

_ANCHORED = "anchored_size"
_ATTEMPTS = 64


class MongoSessionLog(SessionLog):
    """An append inserts at the current size; the unique `_id` makes one of two racing
    appenders retry at the next index (no gap, no overwrite), and the unique
    (session_id, type) makes a repeated append return the stored entry."""

    def __init__(self, entries: Collection, state: Collection) -> None:
        self._entries, self._state = entries, state

    async def _existing(self, entry: LogEntry) -> LogEntry | None:
        found = await self._entries.find_one(
            {"session_id": entry.session_id, "type": entry.type.value}
        )
        return None if found is None else from_native(found, LogEntry)

    async def append(self, entry: LogEntry) -> LogEntry:
        with storage_errors("append to the session log"):
            for _ in range(_ATTEMPTS):
                existing = await self._existing(entry)
                if existing is not None:
                    return existing
                stored = entry.at_index(await self._entries.count_documents({}))
                document = to_native(stored)
                document["_id"] = stored.index
                try:
                    await self._entries.insert_one(document)
                except DuplicateKeyError:
                    continue  # another appender took this index, or wrote this event
                return stored
        raise StorageUnavailable("the session log is too busy to append; retry")

    async def size(self) -> int:
        with storage_errors("read the session log"):
            return await self._entries.count_documents({})

    async def entries(self, start: int, end: int) -> list[LogEntry]:
        with storage_errors("read the session log"):
            cursor = self._entries.find({"_id": {"$gte": start, "$lt": end}})
            documents = await cursor.sort([("_id", ASCENDING)]).to_list()
        return [from_native(document, LogEntry) for document in documents]

    async def anchored_size(self) -> int:
        with storage_errors("read the anchoring state"):
            found = await self._state.find_one({"_id": _ANCHORED})
        return 0 if found is None else int(found["value"])

    async def record_anchored(self, size: int) -> None:
        with storage_errors("record the anchoring state"):
            await self._state.find_one_and_update(
                {"_id": _ANCHORED},
                {"$max": {"value": size}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
