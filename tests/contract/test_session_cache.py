"""SessionCache contract: the in-memory fake and RedisSessionCache on a real redis-server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import structlog
from redis.asyncio import Redis

from lucid_sessions.adapters.logging import configure_logging
from lucid_sessions.adapters.memory.clock import FrozenClock
from lucid_sessions.adapters.memory.session_cache import InMemorySessionCache
from lucid_sessions.adapters.redis import RedisSessionCache, open_redis_cache
from lucid_sessions.domain.ports.session_cache import SessionCache
from lucid_sessions.domain.session import Session
from lucid_sessions.domain.values import SessionMetadata
from tests.factories import at, make_session
from tests.servers_db import RedisServer, running_or_skip

pytestmark = pytest.mark.anyio

open_cache = open_redis_cache


@dataclass
class Harness:
    """One cache implementation and the means to age it and to take it down."""

    kind: str
    open: Callable[..., Awaitable[SessionCache]]
    wait_past: Callable[[float], Awaitable[None]]
    go_down: Callable[[], None]
    come_back: Callable[[], None]
    redis: RedisServer | None = None


@asynccontextmanager
async def memory_harness() -> AsyncIterator[Harness]:
    clock = FrozenClock()
    caches: list[InMemorySessionCache] = []

    async def open_memory(ttl_seconds: float = 300.0) -> SessionCache:
        caches.append(InMemorySessionCache(clock, ttl_seconds=ttl_seconds))
        return caches[-1]

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    def availability(value: bool) -> Callable[[], None]:
        def switch() -> None:
            for cache in caches:
                cache.available = value

        return switch

    yield Harness("memory", open_memory, advance, availability(False), availability(True))


@asynccontextmanager
async def redis_harness(data_dir: Path) -> AsyncIterator[Harness]:
    with running_or_skip(RedisServer(data_dir)) as server:
        async with AsyncExitStack() as stack:

            async def open_redis(ttl_seconds: float = 300.0) -> SessionCache:
                return await stack.enter_async_context(
                    open_cache(server.url, ttl_seconds, timeout_seconds=0.25, retry_interval=0.1)
                )

            yield Harness("redis", open_redis, anyio.sleep, server.kill, server.start, server)


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    opened = memory_harness() if request.param == "memory" else redis_harness(tmp_path / "redis")
    async with opened as made:
        yield made


@pytest.fixture
async def redis_only(tmp_path: Path) -> AsyncIterator[Harness]:
    async with redis_harness(tmp_path / "redis") as made:
        yield made


def session(version: int, name: str = "desk", session_id: str = "sess-a") -> Session:
    made = make_session(
        session_id,
        name=name,
        created_at=at(1.000123),
        metadata=SessionMetadata(project="p", tags=("x",), owner="o"),
    )
    made.start(at(2.5))
    made.version = version
    return made


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "the cache did not come back by itself"
        await anyio.sleep(0.05)


async def test_round_trip_returns_an_equal_copy(harness: Harness) -> None:
    cache = await harness.open()
    stored = session(1)
    await cache.put(stored)
    loaded = await cache.get("sess-a")
    assert loaded == stored
    assert loaded is not stored
    assert loaded is not None
    loaded.name = "changed"
    assert (await cache.get("sess-a")) == stored
    assert await cache.get("sess-missing") is None
    assert await cache.ping()


async def test_versions_only_move_forward(harness: Harness) -> None:
    cache = await harness.open()
    await cache.put(session(2, "two"))
    await cache.put(session(1, "one"))  # a slow reader's older copy is ignored
    await cache.put(session(2, "two again"))  # so is the same version
    assert (await cache.get("sess-a")) == session(2, "two")
    await cache.put(session(3, "three"))
    assert (await cache.get("sess-a")) == session(3, "three")


async def test_invalidate_leaves_a_tombstone_for_one_ttl(harness: Harness) -> None:
    cache = await harness.open(ttl_seconds=0.5)
    await cache.put(session(1))
    await cache.put(session(1, session_id="sess-b"))
    await cache.invalidate("sess-a")
    await cache.invalidate("sess-never-cached")
    assert await cache.get("sess-a") is None
    await cache.put(session(5))  # a reader that fetched it before the delete cannot revive it
    assert await cache.get("sess-a") is None
    assert (await cache.get("sess-b")) == session(1, session_id="sess-b")
    await harness.wait_past(0.7)
    await cache.put(session(6))
    assert (await cache.get("sess-a")) == session(6)


async def test_mark_stale_refuses_the_versions_it_covers_until_a_newer_one(
    harness: Harness,
) -> None:
    cache = await harness.open(ttl_seconds=0.5)
    await cache.put(session(3, "three"))
    await cache.mark_stale("sess-a", 3)  # a write of version 4 is under way
    assert await cache.get("sess-a") is None
    await cache.put(session(3, "three"))  # a reader's copy of the replaced version
    assert await cache.get("sess-a") is None
    await cache.put(session(4, "four"))  # the write's own update
    assert (await cache.get("sess-a")) == session(4, "four")
    await cache.mark_stale("sess-a", 2)  # an older mark changes nothing
    assert (await cache.get("sess-a")) == session(4, "four")
    # The writer died before its update: a miss for one TTL, then business as usual.
    await cache.mark_stale("sess-a", 4)
    await cache.put(session(4, "four"))
    assert await cache.get("sess-a") is None
    await harness.wait_past(0.7)
    await cache.put(session(4, "four"))
    assert (await cache.get("sess-a")) == session(4, "four")
    # In an outage the mark is remembered and applied first when the cache is back.
    harness.go_down()
    await cache.mark_stale("sess-a", 4)
    harness.come_back()
    await eventually(cache.ping)
    assert await cache.get("sess-a") is None


async def test_entries_expire_after_the_ttl(harness: Harness) -> None:
    cache = await harness.open(ttl_seconds=0.5)
    await cache.put(session(1))
    assert await cache.get("sess-a") is not None
    await harness.wait_past(0.7)
    assert await cache.get("sess-a") is None


async def test_outage_never_raises_and_heals_by_itself(harness: Harness) -> None:
    cache = await harness.open()
    await cache.put(session(1))
    harness.go_down()
    started = time.monotonic()
    assert await cache.get("sess-a") is None
    await cache.put(session(2))
    await cache.invalidate("sess-b")
    assert not await cache.ping()
    assert time.monotonic() - started < 3.0  # short timeouts, no retries
    harness.come_back()
    await eventually(cache.ping)
    await cache.put(session(3))
    assert (await cache.get("sess-a")) == session(3)
    assert await cache.get("sess-b") is None


async def test_writes_lost_in_an_outage_never_leave_stale_entries(harness: Harness) -> None:
    """The cache keeps its data through the outage (a partition, or a hung Redis): the update
    that could not be sent must still win over the entry that stayed behind."""
    cache = await harness.open()
    await cache.put(session(1, "old"))
    await cache.put(session(1, "other", session_id="sess-b"))
    if harness.redis is not None:
        harness.redis.pause()
    else:
        harness.go_down()
    try:
        await cache.put(session(2, "new"))  # times out: remembered
        await cache.invalidate("sess-b")
        assert await cache.get("sess-a") is None
    finally:
        if harness.redis is not None:
            harness.redis.resume()
        else:
            harness.come_back()
    await eventually(cache.ping)
    # The timed-out write may still have reached Redis (it was in the socket); otherwise the
    # remembered write became a tombstone. Never the stale entry.
    assert await cache.get("sess-a") in (None, session(2, "new"))
    assert await cache.get("sess-b") is None
    await cache.put(session(1, "old"))  # a slow reader's stale copy is still refused
    assert await cache.get("sess-a") in (None, session(2, "new"))
    await cache.put(session(2, "new"))
    assert (await cache.get("sess-a")) == session(2, "new")


async def test_redis_keys_are_namespaced_json_with_a_ttl(redis_only: Harness) -> None:
    harness = redis_only
    assert harness.redis is not None
    cache = await harness.open(ttl_seconds=30)
    assert isinstance(cache, RedisSessionCache)
    await cache.put(session(1))
    raw = Redis.from_url(harness.redis.url)
    try:
        assert await raw.keys("*") == [b"lucid:sessions:v2:session:sess-a"]
        assert cache.key("sess-a") == "lucid:sessions:v2:session:sess-a"
        assert 0 < await raw.pttl("lucid:sessions:v2:session:sess-a") <= 30_000
        assert await raw.hget("lucid:sessions:v2:session:sess-a", "v") == b"1"
        other = RedisSessionCache(raw, namespace="lucid:other:v1")
        assert await other.get("sess-a") is None
    finally:
        await raw.aclose()


async def test_redis_outage_is_logged_once_and_recovery_too(redis_only: Harness) -> None:
    harness = redis_only
    cache = await harness.open()
    configure_logging("INFO")  # whatever level an earlier test left configured
    with structlog.testing.capture_logs() as logs:
        harness.go_down()
        for _ in range(3):
            assert await cache.get("sess-a") is None
            await cache.put(session(1))
            assert not await cache.ping()
        harness.come_back()
        await eventually(cache.ping)
        await cache.put(session(2))
        assert (await cache.get("sess-a")) == session(2)
    events = [entry["event"] for entry in logs]
    assert events.count("cache_unavailable") == 1
    assert events.count("cache_recovered") == 1


async def test_a_hung_redis_costs_one_timeout_not_one_per_request(redis_only: Harness) -> None:
    assert redis_only.redis is not None
    cache = await redis_only.open()
    await cache.put(session(1))
    redis_only.redis.pause()
    try:
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(cache.get, "sess-a")
        for _ in range(20):
            assert await cache.get("sess-a") is None
        assert time.monotonic() - started < 2.0  # timeout 0.25 s; then Redis is left alone
    finally:
        redis_only.redis.resume()
    await eventually(cache.ping)


async def test_a_restarted_redis_is_not_taken_for_an_outage(redis_only: Harness) -> None:
    """The pooled connections a restart closed are replaced on first use, not reported as
    Redis being down: a replica that took a restart for an outage stopped updating the shared
    cache while the others went on reading its entries (the soak found it)."""
    assert redis_only.redis is not None
    cache = await redis_only.open()
    await cache.put(session(1))
    async with anyio.create_task_group() as tg:  # several connections in the pool
        for _ in range(8):
            tg.start_soon(cache.get, "sess-a")
    configure_logging("INFO")
    with structlog.testing.capture_logs() as logs:
        redis_only.redis.restart()  # empty again: nothing is persisted
        for _ in range(8):  # every pooled connection is a closed one now
            assert await cache.get("sess-a") is None
        await cache.put(session(2))
        assert (await cache.get("sess-a")) == session(2)
        assert await cache.ping()
    assert [entry["event"] for entry in logs].count("cache_unavailable") == 0
