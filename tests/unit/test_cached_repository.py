"""CachedSessionRepository over fakes: no read after a write is stale, and the cache is optional."""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.memory import (
    FrozenClock,
    InMemoryBlobStore,
    InMemorySessionRepository,
    RecordingTelemetry,
)
from lucid_sessions.adapters.memory.session_cache import InMemorySessionCache
from lucid_sessions.app.caching import CachedSessionRepository
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.domain.errors import ConcurrencyError, SessionNotFound, StorageUnavailable
from lucid_sessions.domain.ports.session_repository import SessionQuery
from lucid_sessions.domain.principal import SYSTEM
from lucid_sessions.domain.session import Session, SessionStatus
from tests.factories import at, make_session
from tests.graph import fake_container, fake_stores

pytestmark = pytest.mark.anyio

TTL = 300.0


class GatedRepository(InMemorySessionRepository):
    """Holds a `get` after it has read from the store, until released (a slow reader), and can
    make `save` fail or hang after it committed (an unknown outcome)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next_get = False
        self.read_done = anyio.Event()
        self.release = anyio.Event()
        self.after_commit: str | None = None  # "raise" | "hang"
        self.committed = anyio.Event()

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        found = await super().get(session_id)
        if self.hold_next_get:
            self.hold_next_get = False
            self.read_done.set()
            await self.release.wait()
        return found

    async def save(self, session: Session) -> None:
        await super().save(session)
        self.committed.set()
        if self.after_commit == "raise":
            raise StorageUnavailable("the connection dropped before the reply")
        if self.after_commit == "hang":
            await anyio.sleep_forever()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store() -> GatedRepository:
    return GatedRepository()


@pytest.fixture
def cache(clock: FrozenClock) -> InMemorySessionCache:
    return InMemorySessionCache(clock, ttl_seconds=TTL)


@pytest.fixture
def repo(store: GatedRepository, cache: InMemorySessionCache) -> CachedSessionRepository:
    return CachedSessionRepository(store, cache, RecordingTelemetry())


async def age_out(cache: InMemorySessionCache, clock: FrozenClock, session_id: str) -> None:
    """The TTL passes, so the next read misses the cache."""
    clock.advance(TTL + 1)
    assert await cache.get(session_id) is None


async def rename(repo: CachedSessionRepository, name: str) -> Session:
    session = await repo.get("sess-a")
    session.update(at(10), name=name)
    await repo.save(session)
    return session


async def test_reads_through_and_writes_through(
    repo: CachedSessionRepository, cache: InMemorySessionCache
) -> None:
    await repo.add(make_session("sess-a"))
    assert (await cache.get("sess-a")) == await repo.get("sess-a")
    await cache.invalidate("sess-a")
    assert (await repo.get("sess-a")).version == 1  # a tombstone only means "ask the store"
    with pytest.raises(SessionNotFound):
        await repo.get("sess-missing")


async def test_no_read_after_a_write_is_stale(repo: CachedSessionRepository) -> None:
    await repo.add(make_session("sess-a"))
    assert (await repo.get("sess-a")).version == 1
    await rename(repo, "second")
    loaded = await repo.get("sess-a")
    assert (loaded.name, loaded.version) == ("second", 2)
    loaded.start(at(11))
    await repo.save(loaded)
    assert (await repo.get("sess-a")).status is SessionStatus.RECORDING
    await repo.delete("sess-a", expected_version=3)
    with pytest.raises(SessionNotFound):
        await repo.get("sess-a")


async def test_slow_reader_cannot_cache_a_version_older_than_a_write(
    repo: CachedSessionRepository,
    store: GatedRepository,
    cache: InMemorySessionCache,
    clock: FrozenClock,
) -> None:
    await repo.add(make_session("sess-a"))
    await age_out(cache, clock, "sess-a")
    store.hold_next_get = True
    async with anyio.create_task_group() as tg:
        read: list[Session] = []

        async def slow_read() -> None:
            read.append(await repo.get("sess-a"))

        tg.start_soon(slow_read)
        await store.read_done.wait()  # the reader holds version 1, not yet cached
        writer = await store.get("sess-a")
        writer.update(at(5), name="written")
        await repo.save(writer)  # version 2 reaches the store and the cache
        store.release.set()  # now the reader puts version 1
    assert read[0].version == 1
    loaded = await repo.get("sess-a")
    assert (loaded.name, loaded.version) == ("written", 2)


async def test_slow_reader_cannot_bring_back_a_deleted_session(
    repo: CachedSessionRepository,
    store: GatedRepository,
    cache: InMemorySessionCache,
    clock: FrozenClock,
) -> None:
    await repo.add(make_session("sess-a"))
    await age_out(cache, clock, "sess-a")
    store.hold_next_get = True
    async with anyio.create_task_group() as tg:
        tg.start_soon(repo.get, "sess-a")
        await store.read_done.wait()
        await repo.delete("sess-a")
        store.release.set()
    with pytest.raises(SessionNotFound):
        await repo.get("sess-a")


async def test_every_call_succeeds_while_the_cache_is_down(
    repo: CachedSessionRepository, cache: InMemorySessionCache
) -> None:
    cache.available = False
    await repo.add(make_session("sess-a"))
    await repo.add(make_session("sess-b"))
    await rename(repo, "renamed")
    assert (await repo.get("sess-a")).name == "renamed"
    assert (await repo.list(SessionQuery())).total == 2
    assert (await repo.summarize()).sessions_total == 2
    await repo.delete("sess-b")
    with pytest.raises(SessionNotFound):
        await repo.get("sess-b")
    assert not await cache.ping()


async def test_writes_during_an_outage_win_over_what_the_cache_kept(
    repo: CachedSessionRepository, cache: InMemorySessionCache
) -> None:
    await repo.add(make_session("sess-a"))
    await repo.add(make_session("sess-b"))
    assert (await repo.get("sess-a")).version == 1  # cached
    cache.available = False  # a partition: the cache keeps version 1
    await rename(repo, "during the outage")
    await repo.delete("sess-b")
    cache.available = True
    loaded = await repo.get("sess-a")
    assert (loaded.name, loaded.version) == ("during the outage", 2)
    with pytest.raises(SessionNotFound):
        await repo.get("sess-b")


async def test_a_conflict_refreshes_a_stale_entry(
    repo: CachedSessionRepository, store: GatedRepository
) -> None:
    await repo.add(make_session("sess-a"))
    await repo.get("sess-a")
    behind = await store.get("sess-a")  # another process wrote, its cache update was lost
    behind.update(at(3), name="elsewhere")
    await store.save(behind)
    stale = await repo.get("sess-a")
    assert stale.version == 1
    stale.update(at(4), name="mine")
    with pytest.raises(ConcurrencyError):
        await repo.save(stale)
    retry = await repo.get("sess-a")
    assert (retry.name, retry.version) == ("elsewhere", 2)


@pytest.mark.parametrize("outcome", ["raise", "hang"])
async def test_a_write_with_an_unknown_outcome_leaves_no_stale_entry(
    repo: CachedSessionRepository, store: GatedRepository, outcome: str
) -> None:
    await repo.add(make_session("sess-a"))
    session = await repo.get("sess-a")
    store.after_commit = outcome
    session.update(at(2), name="committed")
    async with anyio.create_task_group() as tg:

        async def save() -> None:
            with contextlib.suppress(StorageUnavailable):
                await repo.save(session)

        tg.start_soon(save)
        await store.committed.wait()
        tg.cancel_scope.cancel()  # the request goes away ("hang") or has already failed
    store.after_commit = None
    loaded = await repo.get("sess-a")
    assert (loaded.name, loaded.version) == ("committed", 2)


async def test_a_writer_killed_after_its_write_leaves_a_miss_not_the_old_version(
    repo: CachedSessionRepository, store: GatedRepository, cache: InMemorySessionCache
) -> None:
    """The process dies between the store's commit and the cache update (SIGKILL): no code
    of the writer runs after the commit. Another process sharing the cache must read the
    committed version, not the one the write replaced."""
    await repo.add(make_session("sess-a"))
    session = await repo.get("sess-a")
    store.after_commit = "hang"  # the writer never gets past the commit
    session.update(at(2), name="committed")
    async with anyio.create_task_group() as tg:
        tg.start_soon(repo.save, session)
        await store.committed.wait()
        other_process = CachedSessionRepository(store, cache, RecordingTelemetry())
        loaded = await other_process.get("sess-a")
        assert (loaded.name, loaded.version) == ("committed", 2)
        assert (await cache.get("sess-a")) == loaded  # and it is cached again
        tg.cancel_scope.cancel()


async def test_cache_lookups_are_counted(
    store: GatedRepository, cache: InMemorySessionCache
) -> None:
    telemetry = RecordingTelemetry()
    repo = CachedSessionRepository(store, cache, telemetry)
    await repo.add(make_session("sess-a"))
    await repo.get("sess-a")
    await cache.invalidate("sess-a")
    await repo.get("sess-a")
    await repo.get("sess-a")
    assert telemetry.counts[("cache_lookup", "hit")] == 1
    assert telemetry.counts[("cache_lookup", "miss")] == 2


async def test_lists_and_summaries_come_from_the_store(
    repo: CachedSessionRepository, store: GatedRepository
) -> None:
    await repo.add(make_session("sess-a"))
    await repo.get("sess-a")
    behind = await store.get("sess-a")
    behind.start(at(1))
    await store.save(behind)
    page = await repo.list(SessionQuery())
    assert page.sessions[0].status is SessionStatus.RECORDING
    assert (await repo.summarize()).sessions_by_status == {"recording": 1}


async def test_a_fresh_read_sees_a_write_another_replica_could_not_cache(
    store: GatedRepository, cache: InMemorySessionCache, clock: FrozenClock
) -> None:
    """Two replicas share the cache; the writer's cache is out, so the shared one keeps the
    version before its write (as the soak saw after a Redis restart). A plain read may show
    that copy; a fresh read, which every decision uses, sees the write and puts it in the
    cache for the plain reads after it."""
    reader = CachedSessionRepository(store, cache, RecordingTelemetry())
    cut_off = InMemorySessionCache(clock, ttl_seconds=TTL)
    cut_off.available = False
    writer = CachedSessionRepository(store, cut_off, RecordingTelemetry())
    await reader.add(make_session("sess-a"))
    assert (await reader.get("sess-a")).version == 1  # cached by the reader's replica
    written = await writer.get("sess-a")
    written.update(at(10), name="renamed elsewhere")
    await writer.save(written)
    assert (await reader.get("sess-a")).version == 1  # the shared copy is stale: a page may lag
    fresh = await reader.get("sess-a", fresh=True)
    assert (fresh.version, fresh.name) == (2, "renamed elsewhere")
    assert (await reader.get("sess-a")).version == 2  # the fresh read replaced the copy


async def test_a_replica_whose_shared_copy_is_stale_takes_the_next_chunk(tmp_path: Path) -> None:
    """The soak's failure, as use cases: replica A stores chunk 1 while its cache is cut off,
    so the shared cache still says one chunk; replica B must take chunk 2 (not answer 409
    "expected chunk 1") and C's order check must see chunk 1 too."""
    stores, blobs, clock = fake_stores(), InMemoryBlobStore(), FrozenClock()
    shared = InMemorySessionCache(clock, ttl_seconds=TTL)
    cut_off = InMemorySessionCache(clock, ttl_seconds=TTL)

    def replica(name: str, cache: InMemorySessionCache) -> Container:
        repository = CachedSessionRepository(stores.sessions, cache, RecordingTelemetry())
        return fake_container(
            tmp_path,  # one key folder: the replicas share their keys
            stores=stores,
            blob_store=blobs,
            clock=clock,
            session_repository=repository,
            owner=name,
        )

    a, b = replica("a", cut_off), replica("b", shared)
    session = make_session("sess-a")
    session.start(session.created_at)
    await b.session_repository().add(session)
    assert (await b.ingest_chunk()(SYSTEM, ChunkUpload("sess-a", 0, b"zero" * 100))).created
    cut_off.available = False
    assert (await a.ingest_chunk()(SYSTEM, ChunkUpload("sess-a", 1, b"one" * 100))).created
    assert (await shared.get("sess-a") or session).chunks_count == 1  # the stale shared copy
    assert (await b.ingest_chunk()(SYSTEM, ChunkUpload("sess-a", 2, b"two" * 100))).created
    stored = await stores.sessions.get("sess-a")
    assert stored.chunks_count == 3
