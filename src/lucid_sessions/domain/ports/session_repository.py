"""Port: the durable home of Session aggregates (optimistic concurrency on `version`)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lucid_sessions.domain.session import Session, SessionStatus

__all__ = ["SessionPage", "SessionQuery", "SessionRepository", "SessionSummary"]


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Filters of the session list; every filter is optional. Newest first.

    Without a `status`, sessions being deleted (DELETING) are left out; `expires_before`
    keeps the sessions whose retention ends before that instant (`Session.expires_at`).
    """

    status: SessionStatus | None = None
    project: str | None = None
    environment: str | None = None
    owner: str | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    expires_before: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[Session]
    total: int


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """Figures over every stored session, computed in the store."""

    sessions_by_status: dict[str, int]
    chunks_total: int
    size_bytes_total: int
    stored_bytes_total: int

    @property
    def sessions_total(self) -> int:
        return sum(self.sessions_by_status.values())


class SessionRepository(Protocol):
    """Durable home of Session aggregates, with optimistic concurrency.

    - `add` raises ConcurrencyError when the id exists.
    - `get` raises SessionNotFound.
    - `save` writes only if the stored version equals `session.version`, then advances
      `session.version` by one; otherwise ConcurrencyError (SessionNotFound when deleted).
    - `delete` raises SessionNotFound, or ConcurrencyError when `expected_version` is given
      and differs from the stored version.
    - `list` returns the page and the total count matching the filters, newest first
      (created_at descending, then session_id descending).
    - `summarize` counts every session but those being deleted.
    - An unreachable store raises StorageUnavailable.
    """

    @abc.abstractmethod
    async def add(self, session: Session) -> None: ...

    @abc.abstractmethod
    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        """The session; `fresh`: read past any cache in front of the store (for a decision
        that must not rest on a copy another replica has since replaced). A store without a
        cache is always fresh."""

    @abc.abstractmethod
    async def save(self, session: Session) -> None: ...

    @abc.abstractmethod
    async def delete(self, session_id: str, expected_version: int | None = None) -> None: ...

    @abc.abstractmethod
    async def list(self, query: SessionQuery) -> SessionPage: ...

    @abc.abstractmethod
    async def summarize(self, owner: str | None = None) -> SessionSummary: ...
