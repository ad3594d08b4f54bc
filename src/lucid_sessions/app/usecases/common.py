"""What every session use case shares: visibility scoping and optimistic retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import anyio
from anyio.abc import TaskGroup

from lucid_sessions.domain.errors import ConcurrencyError, InvalidValue, SessionNotFound
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.principal import Principal
from lucid_sessions.domain.session import Session, SessionStatus, validate_id

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_OFFSET",
    "SessionView",
    "all_at_once",
    "check_page",
    "load_visible",
    "mutate",
]

T = TypeVar("T")

MAX_ATTEMPTS = 5
MAX_OFFSET = 1_000_000_000


def check_page(limit: int, offset: int, max_limit: int) -> None:
    """Bounds of every paged list (an unbounded offset would overflow the stores)."""
    if not 1 <= limit <= max_limit:
        raise InvalidValue("limit", f"must be between 1 and {max_limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidValue("offset", f"must be between 0 and {MAX_OFFSET}")


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as read at `as_of` (the time its derived figures are computed for)."""

    session: Session
    as_of: datetime


async def load_visible(
    repo: SessionRepository,
    principal: Principal,
    session_id: str,
    *,
    deleting: bool = False,
    fresh: bool = False,
) -> Session:
    """Validate the id, load the session and hide it from principals that may not see it.
    A session being deleted is gone for every reader, unless `deleting` (the deleter's own
    take-over of an unfinished deletion). `fresh`: past any cache (a decision is made on it)."""
    validate_id(session_id)
    session = await repo.get(session_id, fresh=fresh)
    hidden = session.status is SessionStatus.DELETING and not deleting
    if hidden or not principal.may_see(session.metadata.owner):
        raise SessionNotFound(session_id)
    return session


async def mutate(
    repo: SessionRepository,
    principal: Principal,
    session_id: str,
    change: Callable[[Session], Awaitable[T] | T],
    *,
    deleting: bool = False,
) -> tuple[Session, T]:
    """Load, apply `change`, save conditionally; on a concurrent write, reload and re-apply.

    `change` runs its guards against the freshest state on every attempt, so a retry that
    finds the state moved on raises the domain error (e.g. InvalidTransition) instead.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        session = await load_visible(repo, principal, session_id, deleting=deleting, fresh=True)
        outcome = change(session)
        result: T = await outcome if isinstance(outcome, Awaitable) else outcome
        try:
            await repo.save(session)
        except ConcurrencyError:
            if attempt == MAX_ATTEMPTS:
                raise
            continue
        return session, result
    raise AssertionError("unreachable")


@asynccontextmanager
async def all_at_once() -> AsyncIterator[TaskGroup]:
    """A task group whose failure is the first error of its tasks, not an ExceptionGroup, so
    callers (and the error table) see the domain error a task raised."""
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
