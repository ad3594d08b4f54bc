"""MongoDataKeyStore: wrapped data keys in MongoDB; `put_if_absent` is one atomic upsert."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey

__all__ = ["MongoDataKeyStore"]

Collection = AsyncCollection[dict[str, Any]]


class MongoDataKeyStore(DataKeyStore):
    """Wrapped data keys in the `data_keys` collection (see `documents`), by session id."""

    def __init__(self, collection: Collection) -> None:
        self._keys = collection

    async def get(self, session_id: str) -> WrappedKey | None:
        with storage_errors("read a data key"):
            document = await self._keys.find_one({"_id": session_id})
        return None if document is None else from_native(document, WrappedKey)

    async def put_if_absent(self, session_id: str, key: WrappedKey) -> WrappedKey:
        with storage_errors("store a data key"):
            try:
                document = await self._keys.find_one_and_update(
                    {"_id": session_id},
                    {"$setOnInsert": to_native(key)},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # a racing upsert inserted it first: read the winner
                document = await self._keys.find_one({"_id": session_id})
        assert document is not None
        return from_native(document, WrappedKey)

    async def replace(self, session_id: str, old: WrappedKey, new: WrappedKey) -> bool:
        with storage_errors("replace a data key"):
            result = await self._keys.update_one(
                {"_id": session_id, **to_native(old)}, {"$set": to_native(new)}
            )
        return result.matched_count == 1

    async def all(self) -> list[tuple[str, WrappedKey]]:
        with storage_errors("list data keys"):
            documents = await self._keys.find({}).sort([("_id", ASCENDING)]).to_list()
        return [(d["_id"], from_native(d, WrappedKey)) for d in documents]

    async def delete(self, session_id: str) -> None:
        with storage_errors("delete a data key"):
            await self._keys.delete_one({"_id": session_id})
