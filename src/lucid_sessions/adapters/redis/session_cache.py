"""RedisSessionCache: the SessionCache port on redis.asyncio (versioned entries, tombstones).

Each session is one hash under `<namespace>:session:<id>` (default namespace
`lucid:sessions:v2`; v1 held an older document shape) with the fields `v` (the session's
version, or TOMBSTONE_VERSION) and `d` (the session as the JSON shape of `adapters.documents`;
absent in a tombstone), and a TTL. Two Lua scripts make
`put` and `invalidate` atomic compare-and-set operations on `v`, so versions only move forward
whatever order concurrent writers' commands arrive in.

Outages (down or slow: short socket timeouts, no retries) never raise: the first failure is
logged once (`cache_unavailable`), then Redis is left alone for `retry_interval` seconds while
reads miss and failed writes are remembered; the next call after that replays the remembered
writes as tombstones, logs `cache_recovered` and carries on. No restart is needed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lucid_sessions.adapters.documents import from_json, to_json
from lucid_sessions.domain.errors import DomainError
from lucid_sessions.domain.ports.session_cache import TOMBSTONE_VERSION, SessionCache
from lucid_sessions.domain.session import Session

__all__ = ["DEFAULT_NAMESPACE", "RedisSessionCache"]

DEFAULT_NAMESPACE = "lucid:sessions:v2"

_log = structlog.get_logger("lucid_sessions.cache")
_FAILURES = (RedisError, OSError, TimeoutError)

_Command = Callable[[str], Awaitable[object]]
"""A Redis command on the entry whose key it is given."""

# KEYS[1] = entry; ARGV = version, document JSON, ttl ms. Newer versions only.
_PUT = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] = entry; ARGV = floor, ttl ms. Versions up to `floor` are stale: tombstone them.
_FLOOR = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisSessionCache(SessionCache):
    """Versioned session cache on a `redis.asyncio.Redis` client the caller owns.

    Build the client with short timeouts and no retries (`open_redis_cache` does).
    """

    def __init__(
        self,
        client: Redis,
        *,
        ttl_seconds: float = 300.0,
        namespace: str = DEFAULT_NAMESPACE,
        retry_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._namespace = namespace
        self._retry_interval = retry_interval
        self._put_script = client.register_script(_PUT)
        self._floor_script = client.register_script(_FLOOR)
        self._healthy = True
        self._retry_at = 0.0
        self._pending: dict[str, int] = {}
        self._lock = anyio.Lock()

    def key(self, session_id: str) -> str:
        return f"{self._namespace}:session:{session_id}"

    async def get(self, session_id: str) -> Session | None:
        if not await self._answers():
            return None
        try:
            raw = await self._client.hget(self.key(session_id), "d")
        except _FAILURES as exc:
            self._failed(exc)
            return None
        if raw is None:
            return None
        try:
            return from_json(raw, Session)
        except (ValueError, KeyError, TypeError, DomainError) as exc:
            _log.warning("cache_entry_unreadable", session_id=session_id, error=str(exc))
            return None

    async def put(self, session: Session) -> None:
        document = to_json(session)
        await self._write(
            session.session_id,
            session.version - 1,
            lambda key: self._put_script(
                keys=[key], args=[session.version, document, self._ttl_ms]
            ),
        )

    async def mark_stale(self, session_id: str, version: int) -> None:
        await self._write(session_id, version, lambda key: self._tombstone(key, version))

    async def invalidate(self, session_id: str) -> None:
        await self._write(session_id, TOMBSTONE_VERSION, self._tombstone)

    async def ping(self) -> bool:
        if not await self._answers(probe=True):
            return False
        try:
            await self._client.ping()
        except _FAILURES as exc:
            self._failed(exc)
            return False
        return True

    # -- internals ---------------------------------------------------------------------------
    async def _tombstone(self, key: str, floor: int = TOMBSTONE_VERSION) -> object:
        return await self._floor_script(keys=[key], args=[floor, self._ttl_ms])

    async def _write(self, session_id: str, floor: int, command: _Command) -> None:
        """Run `command`; when Redis cannot take it, remember a tombstone `floor` instead."""
        if await self._answers():
            try:
                await command(self.key(session_id))
                return
            except _FAILURES as exc:
                self._failed(exc)
        self._pending[session_id] = max(floor, self._pending.get(session_id, -1))

    async def _answers(self, *, probe: bool = False) -> bool:
        """True when Redis may be used now; replays remembered writes after an outage."""
        if self._healthy:
            return True
        if not probe and time.monotonic() < self._retry_at:
            return False
        async with self._lock:  # one probe at a time; the others see its outcome
            if self._healthy:
                return True
            if not probe and time.monotonic() < self._retry_at:
                return False
            try:
                await self._client.ping()
                for session_id, floor in list(self._pending.items()):
                    await self._tombstone(self.key(session_id), floor)
                    if self._pending.get(session_id) == floor:
                        del self._pending[session_id]
            except _FAILURES as exc:
                self._failed(exc)
                return False
            if self._pending:  # more were remembered while replaying: next call goes on
                return False
            self._healthy = True
        _log.info("cache_recovered")
        return True

    def _failed(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self._retry_interval
        if self._healthy:
            self._healthy = False
            _log.warning("cache_unavailable", error=f"{type(exc).__name__}: {exc}")
