"""CachedSessionRepository: a read-through SessionCache in front of any SessionRepository.

Composition (REDIS_URL set): `CachedSessionRepository(repository, redis_cache, telemetry)`
replaces the repository everywhere sessions are read or written; `list` and `summarize` always
go to the repository. Every `get` reports a cache hit or miss to the telemetry.

Why no read after a write returns stale data:

- Writes go to the repository first; then the cache is updated *through*: `add` and `save`
  `put` the new version, `delete` leaves a tombstone (`invalidate`). A read that starts after
  the write returned therefore finds the new version or nothing.
- Before a `save`, the version it replaces is marked stale in the cache (`mark_stale`), so a
  process killed between the repository write and the cache update leaves a miss behind,
  not the old version (which would send a recorder resuming after the crash a 409 for a
  chunk that is in fact stored).
- The race "a reader fetched version N from the repository, a writer saved N+1 and updated
  the cache, then the reader puts N" cannot win: the cache keeps versions monotonic (`put`
  never replaces a newer-or-equal version, and a tombstone refuses every `put` for one TTL),
  so the late `put` of N is ignored. A deleted session likewise cannot be brought back.
- A write whose outcome is unknown (the repository raised anything but ConcurrencyError, or
  the task was cancelled) leaves a tombstone, because the write may have been applied. A
  ConcurrencyError means the caller read a stale version, possibly from the cache: the entry
  is refreshed from the repository so a retry reads the winner's version.
- Cache updates after a write are shielded from cancellation, so a cancelled request cannot
  commit to the repository and skip the cache update.
- A cache that is down misses every read and remembers failed updates as tombstones that it
  applies before answering again (the SessionCache contract), so every call still succeeds
  through the repository and an outage leaves nothing stale behind in this process. Across
  processes sharing one Redis, a replica that could not update the cache leaves the others
  reading the version before its write until it replays its tombstones (about a second) or
  the TTL ends. So every decision that refuses or changes a session (an upload's order and
  status checks, a state change) reads it `fresh`, from the repository: a copy another
  replica has replaced can show a session's page, never turn away a recorder.
"""

from __future__ import annotations

from collections.abc import Awaitable

import anyio

from lucid_sessions.domain.errors import ConcurrencyError
from lucid_sessions.domain.ports.session_cache import SessionCache
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.ports.telemetry import Telemetry
from lucid_sessions.domain.session import Session

__all__ = ["CachedSessionRepository"]


async def _shielded(update: Awaitable[None]) -> None:
    with anyio.CancelScope(shield=True):
        await update


class CachedSessionRepository(SessionRepository):
    """Read-through, write-through decorator; see the module docstring for the guarantees."""

    def __init__(
        self, repository: SessionRepository, cache: SessionCache, telemetry: Telemetry
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._telemetry = telemetry

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        if fresh:  # past the cache; what was read replaces what the cache held
            session = await self._repository.get(session_id)
            await _shielded(self._cache.put(session.copy()))
            return session
        cached = await self._cache.get(session_id)
        self._telemetry.cache_lookup(cached is not None)
        if cached is not None:
            return cached
        session = await self._repository.get(session_id)
        await self._cache.put(session.copy())
        return session

    async def add(self, session: Session) -> None:
        try:
            await self._repository.add(session)
        except ConcurrencyError:
            raise  # the id exists and nothing was written: the cache is as right as before
        except BaseException:
            await _shielded(self._cache.invalidate(session.session_id))
            raise
        await _shielded(self._cache.put(session.copy()))

    async def save(self, session: Session) -> None:
        # Before the write: a process killed between the write and the cache update must
        # leave a miss behind, not the version this write replaces.
        await _shielded(self._cache.mark_stale(session.session_id, session.version))
        try:
            await self._repository.save(session)
        except ConcurrencyError:
            await _shielded(self._refresh(session.session_id))
            raise
        except BaseException:
            await _shielded(self._cache.invalidate(session.session_id))
            raise
        await _shielded(self._cache.put(session.copy()))

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        try:
            await self._repository.delete(session_id, expected_version)
        except ConcurrencyError:
            await _shielded(self._refresh(session_id))
            raise
        except BaseException:
            await _shielded(self._cache.invalidate(session_id))
            raise
        await _shielded(self._cache.invalidate(session_id))

    async def list(self, query: SessionQuery) -> SessionPage:
        return await self._repository.list(query)

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        return await self._repository.summarize(owner)

    async def _refresh(self, session_id: str) -> None:
        """Replace a possibly stale entry by the stored version (or a tombstone)."""
        try:
            fresh = await self._repository.get(session_id)
        except Exception:  # SessionNotFound, or the repository is down: forget the entry
            await self._cache.invalidate(session_id)
        else:
            await self._cache.put(fresh)
