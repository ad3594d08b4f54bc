"""MongoDataKeyStore: wrapped data keys in MongoDB."""

from __future__ import annotations

from beanie import SortDirection, UpdateResponse
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.mongo.documents import DataKeyDocument
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.keyring import WrappedKey

__all__ = ["MongoDataKeyStore"]


class MongoDataKeyStore(DataKeyStore):
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
