"""In-memory SessionRepository, the fake used by domain and application tests."""

from __future__ import annotations

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.session import Session, SessionStatus

__all__ = ["InMemorySessionRepository", "matches"]


def matches(session: Session, query: SessionQuery) -> bool:
    meta = session.metadata
    expires = session.expires_at
    return (
        (
            session.status is not SessionStatus.DELETING
            if query.status is None
            else session.status is query.status
        )
        and (query.project is None or meta.project == query.project)
        and (query.environment is None or meta.environment == query.environment)
        and (query.owner is None or meta.owner == query.owner)
        and (query.tag is None or query.tag in meta.tags)
        and (query.created_after is None or session.created_at >= query.created_after)
        and (query.created_before is None or session.created_at < query.created_before)
        and (
            query.expires_before is None or (expires is not None and expires < query.expires_before)
        )
    )


class InMemorySessionRepository(SessionRepository):
    def __init__(self) -> None:
        self._items: dict[str, Session] = {}

    async def add(self, session: Session) -> None:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        if session.session_id in self._items:
            raise ConcurrencyError(f"session {session.session_id!r} already exists")
        session.version += 1
        self._items[session.session_id] = session.copy()

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        try:
            return self._items[session_id].copy()
        except KeyError:
            raise SessionNotFound(session_id) from None

    async def save(self, session: Session) -> None:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        stored = self._items.get(session.session_id)
        if stored is None:
            raise SessionNotFound(session.session_id)
        if stored.version != session.version:
            raise ConcurrencyError(
                f"session {session.session_id!r} was changed by another request; retry"
            )
        session.version += 1
        self._items[session.session_id] = session.copy()

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        stored = self._items.get(session_id)
        if stored is None:
            raise SessionNotFound(session_id)
        if expected_version is not None and stored.version != expected_version:
            raise ConcurrencyError(f"session {session_id!r} was changed by another request; retry")
        del self._items[session_id]

    async def list(self, query: SessionQuery) -> SessionPage:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        found = [s for s in self._items.values() if matches(s, query)]
        found.sort(key=lambda s: (s.created_at, s.session_id), reverse=True)
        page = found[query.offset : query.offset + query.limit]
        return SessionPage(sessions=[s.copy() for s in page], total=len(found))

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        await checkpoint()  # yield like real I/O, so interleavings happen in tests too
        by_status: dict[str, int] = {}
        chunks = size = stored = 0
        for session in self._items.values():
            if owner is not None and session.metadata.owner != owner:
                continue
            if session.status is SessionStatus.DELETING:
                continue
            by_status[session.status.value] = by_status.get(session.status.value, 0) + 1
            chunks += session.chunks_count
            size += session.size_bytes
            stored += session.stored_bytes
        return SessionSummary(by_status, chunks, size, stored)
