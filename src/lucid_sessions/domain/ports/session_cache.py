"""Port: the optional session cache (read-through, in front of a SessionRepository).

Entries are versioned by the aggregate's `version`, and versions only move forward: `put`
never replaces an entry with an older (or the same) version of the session, and `invalidate`
leaves a tombstone that refuses every `put` of that session for one TTL. So a slow reader that
fetched version N from the database can never overwrite version N+1 written meanwhile, nor bring
back a session deleted meanwhile (see `lucid_sessions.app.caching.CachedSessionRepository`).

A cache is never vital: an outage never raises. While the cache is unreachable `get` answers
None (a miss), writes do nothing visible, and `ping` answers False. A `put`, `mark_stale` or
`invalidate` that could not reach the cache is remembered and applied (as a tombstone) before
the cache answers again, so an outage never leaves a stale entry behind in this process.
"""

from __future__ import annotations

import abc
from typing import Final, Protocol

from lucid_sessions.domain.session import Session

__all__ = ["TOMBSTONE_VERSION", "SessionCache"]

TOMBSTONE_VERSION: Final = 2**53 - 1
"""Version of an `invalidate` tombstone: above every real version, exact in a double (and so
in a Lua number)."""


class SessionCache(Protocol):
    """Sessions by id, with a time to live; see the module docstring for the rules."""

    @abc.abstractmethod
    async def get(self, session_id: str) -> Session | None:
        """A copy of the cached session, or None (missing, expired, tombstone or outage)."""

    @abc.abstractmethod
    async def put(self, session: Session) -> None:
        """Cache `session` unless a newer-or-equal version or a tombstone is cached."""

    @abc.abstractmethod
    async def mark_stale(self, session_id: str, version: int) -> None:
        """Versions up to `version` are stale (a write of a newer one is under way): drop
        such an entry and refuse to cache them again, for one TTL; a newer version may still
        be `put`. A process that dies between this and its `put` leaves a miss, never a
        stale entry."""

    @abc.abstractmethod
    async def invalidate(self, session_id: str) -> None:
        """Drop the session and refuse to cache it again for one TTL (a tombstone)."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the cache answers; never raises."""
