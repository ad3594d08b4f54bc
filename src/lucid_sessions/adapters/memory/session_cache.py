"""In-memory SessionCache: the fake of the Redis cache, with the same versioning and outages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio.lowlevel import checkpoint

from lucid_sessions.domain.ports.clock import Clock
from lucid_sessions.domain.ports.session_cache import TOMBSTONE_VERSION, SessionCache
from lucid_sessions.domain.session import Session

__all__ = ["InMemorySessionCache"]


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    session: Session | None  # None: a tombstone
    expires_at: datetime


class InMemorySessionCache(SessionCache):
    """Sessions with a TTL measured on the injected clock.

    `available = False` simulates an outage that keeps the stored entries (a network
    partition): reads miss, writes are remembered as tombstones and applied before the cache
    answers again, exactly as `RedisSessionCache` does.
    """

    def __init__(self, clock: Clock, ttl_seconds: float = 300.0) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_seconds)
        self._entries: dict[str, _Entry] = {}
        self._pending: dict[str, int] = {}
        self.available = True

    async def get(self, session_id: str) -> Session | None:
        await checkpoint()
        if not self._answers():
            return None
        entry = self._live(session_id)
        if entry is None or entry.session is None:
            return None
        return entry.session.copy()

    async def put(self, session: Session) -> None:
        await checkpoint()
        if not self._answers():
            self._remember(session.session_id, session.version - 1)
            return
        entry = self._live(session.session_id)
        if entry is not None and entry.version >= session.version:
            return
        self._store(session.session_id, session.version, session.copy())

    async def mark_stale(self, session_id: str, version: int) -> None:
        await checkpoint()
        if not self._answers():
            self._remember(session_id, version)
            return
        self._raise_floor(session_id, version)

    async def invalidate(self, session_id: str) -> None:
        await checkpoint()
        if not self._answers():
            self._remember(session_id, TOMBSTONE_VERSION)
            return
        self._raise_floor(session_id, TOMBSTONE_VERSION)

    async def ping(self) -> bool:
        await checkpoint()
        return self._answers()

    # -- internals ---------------------------------------------------------------------------
    def _answers(self) -> bool:
        if not self.available:
            return False
        pending, self._pending = self._pending, {}
        for session_id, floor in pending.items():
            self._raise_floor(session_id, floor)
        return True

    def _remember(self, session_id: str, floor: int) -> None:
        self._pending[session_id] = max(floor, self._pending.get(session_id, -1))

    def _raise_floor(self, session_id: str, floor: int) -> None:
        """Tombstone `floor`: versions up to `floor` are stale and may not be cached."""
        entry = self._live(session_id)
        if entry is None or entry.version <= floor:
            self._store(session_id, floor, None)

    def _store(self, session_id: str, version: int, session: Session | None) -> None:
        expires_at = self._clock.now() + self._ttl
        self._entries[session_id] = _Entry(version, session, expires_at)

    def _live(self, session_id: str) -> _Entry | None:
        entry = self._entries.get(session_id)
        if entry is not None and entry.expires_at <= self._clock.now():
            del self._entries[session_id]
            return None
        return entry
