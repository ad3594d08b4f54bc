"""Get one session, list sessions with filters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from lucid_sessions.app.usecases.common import SessionView, check_page, load_visible
from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_repository import SessionQuery, SessionRepository
from lucid_sessions.domain.principal import Principal

__all__ = ["MAX_LIMIT", "GetSession", "ListSessions", "SessionList"]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SessionList:
    items: list[SessionView]
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


class GetSession:
    def __init__(self, repo: SessionRepository, clock: Clock) -> None:
        self._repo, self._clock = repo, clock

    async def __call__(self, principal: Principal, session_id: str) -> SessionView:
        session = await load_visible(self._repo, principal, session_id)
        return SessionView(session, self._clock.now())


class ListSessions:
    def __init__(self, repo: SessionRepository, clock: Clock) -> None:
        self._repo, self._clock = repo, clock

    async def __call__(self, principal: Principal, query: SessionQuery) -> SessionList:
        check_page(query.limit, query.offset, MAX_LIMIT)
        scope = principal.owner_scope()
        if scope is not None:
            if query.owner is not None and query.owner != scope:
                return SessionList([], 0, query.limit, query.offset)
            query = replace(query, owner=scope)
        page = await self._repo.list(query)
        now = self._clock.now()
        return SessionList(
            [SessionView(s, now) for s in page.sessions], page.total, query.limit, query.offset
        )
