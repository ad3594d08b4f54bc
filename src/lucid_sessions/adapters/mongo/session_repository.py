"""MongoSessionRepository: sessions in MongoDB with optimistic concurrency on `version`."""

from __future__ import annotations

from typing import Any

from beanie import SortDirection
from beanie.exceptions import DocumentNotFound
from pymongo.errors import DuplicateKeyError

from lucid_sessions.adapters.mongo.documents import SessionDocument
from lucid_sessions.adapters.mongo.errors import storage_errors
from lucid_sessions.adapters.mongo.mapping import (
    epoch_micros,
    session_from_document,
    session_to_document,
)
from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.session import Session

__all__ = ["MongoSessionRepository"]

_NEWEST_FIRST = [
    ("created_us", SortDirection.DESCENDING),
    ("_id", SortDirection.DESCENDING),
]


def _conflict(session_id: str) -> ConcurrencyError:
    return ConcurrencyError(f"session {session_id!r} was changed by another request; retry")


async def _exists(session_id: str) -> bool:
    return await SessionDocument.find({"_id": session_id}).count() > 0


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
    created: dict[str, int] = {}
    if query.created_after is not None:
        created["$gte"] = epoch_micros(query.created_after)
    if query.created_before is not None:
        created["$lt"] = epoch_micros(query.created_before)
    if created:
        found["created_us"] = created
    return found


class MongoSessionRepository(SessionRepository):
    """Needs `init_beanie` with SessionDocument first (`open_mongo` does it).

    `save` replaces the document only where `{_id, version}` still match what was read, so of
    two racing writers exactly one matches; the other gets ConcurrencyError.
    """

    async def add(self, session: Session) -> None:
        document = session_to_document(session)
        document.version = session.version + 1
        with storage_errors("add a session"):
            try:
                await document.insert()
            except DuplicateKeyError as exc:
                raise ConcurrencyError(f"session {session.session_id!r} already exists") from exc
        session.version += 1

    async def get(self, session_id: str) -> Session:
        with storage_errors("read a session"):
            document = await SessionDocument.get(session_id)
        if document is None:
            raise SessionNotFound(session_id)
        return session_from_document(document)

    async def save(self, session: Session) -> None:
        document = session_to_document(session)
        document.version = session.version + 1
        with storage_errors("save a session"):
            try:
                await SessionDocument.find_one(
                    {"_id": session.session_id, "version": session.version}
                ).replace_one(document)
            except DocumentNotFound:
                if not await _exists(session.session_id):
                    raise SessionNotFound(session.session_id) from None
                raise _conflict(session.session_id) from None
        session.version += 1

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        match: dict[str, Any] = {"_id": session_id}
        if expected_version is not None:
            match["version"] = expected_version
        with storage_errors("delete a session"):
            result = await SessionDocument.find_one(match).delete()
            if result is not None and result.deleted_count == 1:
                return
            if not await _exists(session_id):
                raise SessionNotFound(session_id)
        raise _conflict(session_id)

    async def list(self, query: SessionQuery) -> SessionPage:
        match = _filter(query)
        with storage_errors("list sessions"):
            total = await SessionDocument.find(match).count()
            documents = (
                await SessionDocument.find(match)
                .sort(_NEWEST_FIRST)
                .skip(query.offset)
                .limit(query.limit)
                .to_list()
            )
        return SessionPage([session_from_document(d) for d in documents], total)

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        match: dict[str, Any] = {} if owner is None else {"metadata.owner": owner}
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
            rows = await SessionDocument.aggregate(pipeline).to_list()
        return SessionSummary(
            sessions_by_status={str(r["_id"]): int(r["sessions"]) for r in rows},
            chunks_total=sum(int(r["chunks"]) for r in rows),
            size_bytes_total=sum(int(r["size"]) for r in rows),
            stored_bytes_total=sum(int(r["stored"]) for r in rows),
        )
