"""MongoSessionRepository: sessions in MongoDB with optimistic concurrency on `version`."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.documents import from_native, to_native
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.session import Session, SessionStatus

__all__ = ["MongoSessionRepository"]

Collection = AsyncCollection[dict[str, Any]]

_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


def _conflict(session_id: str) -> ConcurrencyError:
    return ConcurrencyError(f"session {session_id!r} was changed by another request; retry")


def _document(session: Session, version: int) -> dict[str, Any]:
    document = to_native(session)
    document["_id"] = session.session_id
    document["version"] = version
    document["expires_at"] = session.expires_at  # derived, kept for the retention index
    return document


def _filter(query: SessionQuery) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field, value in (
        ("status", None if query.status is None else query.status.value),
        ("metadata.project", query.project),
        ("metadata.environment", query.environment),
        ("metadata.owner", query.owner),
        ("metadata.tags", query.tag),
    ):
        if value is not None:
            found[field] = value
    created: dict[str, Any] = {}
    if query.created_after is not None:
        created["$gte"] = query.created_after
    if query.created_before is not None:
        created["$lt"] = query.created_before
    if created:
        found["created_at"] = created
    if query.expires_before is not None:
        found["expires_at"] = {"$type": "date", "$lt": query.expires_before}  # never null
    if query.status is None:
        found["status"] = {"$ne": SessionStatus.DELETING.value}
    return found


class MongoSessionRepository(SessionRepository):
    """Sessions in the `sessions` collection (see `documents`).

    `save` replaces the document only where `{_id, version}` still match what was read, so of
    two racing writers exactly one matches; the other gets ConcurrencyError.
    """

    def __init__(self, collection: Collection) -> None:
        self._sessions = collection

    async def _exists(self, session_id: str) -> bool:
        return await self._sessions.count_documents({"_id": session_id}, limit=1) > 0

    async def add(self, session: Session) -> None:
        with storage_errors("add a session"):
            try:
                await self._sessions.insert_one(_document(session, session.version + 1))
            except DuplicateKeyError as exc:
                raise ConcurrencyError(f"session {session.session_id!r} already exists") from exc
        session.version += 1

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        with storage_errors("read a session"):
            document = await self._sessions.find_one({"_id": session_id})
        if document is None:
            raise SessionNotFound(session_id)
        return from_native(document, Session)

    async def save(self, session: Session) -> None:
        match = {"_id": session.session_id, "version": session.version}
        with storage_errors("save a session"):
            result = await self._sessions.replace_one(
                match, _document(session, session.version + 1)
            )
            if result.matched_count == 0:
                if not await self._exists(session.session_id):
                    raise SessionNotFound(session.session_id)
                raise _conflict(session.session_id)
        session.version += 1

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        match: dict[str, Any] = {"_id": session_id}
        if expected_version is not None:
            match["version"] = expected_version
        with storage_errors("delete a session"):
            result = await self._sessions.delete_one(match)
            if result.deleted_count == 1:
                return
            if not await self._exists(session_id):
                raise SessionNotFound(session_id)
        raise _conflict(session_id)

    async def list(self, query: SessionQuery) -> SessionPage:
        match = _filter(query)
        with storage_errors("list sessions"):
            total = await self._sessions.count_documents(match)
            cursor = (
                self._sessions.find(match).sort(_NEWEST_FIRST).skip(query.offset).limit(query.limit)
            )
            documents = await cursor.to_list()
        return SessionPage([from_native(d, Session) for d in documents], total)

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        match: dict[str, Any] = {"status": {"$ne": SessionStatus.DELETING.value}}
        if owner is not None:
            match["metadata.owner"] = owner
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {
                "$group": {
                    "_id": "$status",
                    "sessions": {"$sum": 1},
                    "chunks": {"$sum": "$chunks_count"},
                    "size": {"$sum": "$size_bytes"},
                    "stored": {"$sum": "$stored_bytes"},
                }
            },
        ]
        with storage_errors("summarize sessions"):
            rows = await (await self._sessions.aggregate(pipeline)).to_list()
        return SessionSummary(
            sessions_by_status={str(r["_id"]): int(r["sessions"]) for r in rows},
            chunks_total=sum(int(r["chunks"]) for r in rows),
            size_bytes_total=sum(int(r["size"]) for r in rows),
            stored_bytes_total=sum(int(r["stored"]) for r in rows),
        )
