"""What the port contracts cannot see of the MongoDB adapters: outages and the stored schema.

The outage tests stop their own mongoeco server (on a SQLite file, so data outlives a restart);
with MONGODB_TEST_URL set they skip, because a shared real server is not ours to stop.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from lucid_sessions.adapters.mongo import MongoStores, open_mongo
from lucid_sessions.adapters.mongo.documents import ChunkDocument, SessionDocument
from lucid_sessions.domain.errors import StorageUnavailable
from lucid_sessions.domain.ports.chunk_index import ChunkQuery
from lucid_sessions.domain.ports.session_repository import SessionQuery
from tests.factories import make_session
from tests.servers import free_port
from tests.servers_db import (
    MongoecoServer,
    MongoTarget,
    fresh_database_name,
    mongo_target_from_env,
    running_or_skip,
)

pytestmark = pytest.mark.anyio

open_stores = open_mongo


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[MongoecoServer]:
    if mongo_target_from_env() is not None:
        pytest.skip("MONGODB_TEST_URL names a shared server: outages are tested on mongoeco")
    durable = MongoecoServer(tmp_path / "mongoeco", sqlite_path=tmp_path / "mongo.sqlite3")
    with running_or_skip(durable) as server:
        yield server


@pytest.fixture
async def stores(own_server: MongoecoServer) -> AsyncIterator[MongoStores]:
    url = MongoTarget(own_server.url, emulated=True).url(fresh_database_name())
    async with open_stores(url, server_selection_timeout_ms=500, socket_timeout_ms=1000) as made:
        yield made


async def assert_unavailable(stores: MongoStores) -> None:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        await stores.sessions.get("sess-a")
    with pytest.raises(StorageUnavailable):
        await stores.sessions.save(make_session("sess-b"))
    with pytest.raises(StorageUnavailable):
        await stores.chunks.find(ChunkQuery("sess-a", committed=1))
    assert not await stores.health.ping()
    assert time.monotonic() - started < 10, "an outage must fail fast, not hang"


async def eventually_answers(stores: MongoStores, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await stores.health.ping():
        assert time.monotonic() < deadline, "the client did not reconnect by itself"
        await anyio.sleep(0.1)


@pytest.mark.parametrize("outage", ["stopped", "hung"])
async def test_outage_raises_storage_unavailable_then_recovers_with_the_same_client(
    stores: MongoStores, own_server: MongoecoServer, outage: str
) -> None:
    await stores.sessions.add(make_session("sess-a"))
    assert await stores.health.ping()
    if outage == "stopped":
        own_server.kill()
    else:
        own_server.pause()
    try:
        await assert_unavailable(stores)
    finally:
        if outage == "stopped":
            own_server.start()
        else:
            own_server.resume()
    await eventually_answers(stores)
    assert (await stores.sessions.get("sess-a")).version == 1
    assert (await stores.sessions.list(SessionQuery())).total == 1


async def test_unreachable_at_start_is_a_clear_storage_unavailable(tmp_path: Path) -> None:
    url = f"mongodb://admin:secret@127.0.0.1:{free_port()}/lucid?directConnection=true"
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        async with open_stores(url, server_selection_timeout_ms=300):
            pass
    assert time.monotonic() - started < 5
    assert "cannot be reached" in raised.value.detail
    assert "secret" not in raised.value.detail


async def test_indexes_serve_every_list_filter_newest_first(mongo_stores: MongoStores) -> None:
    sessions = await SessionDocument.get_pymongo_collection().index_information()
    keys = {tuple(info["key"]) for info in sessions.values()}
    newest = (("created_at", -1), ("_id", -1))
    assert newest in keys
    for field in ("status", "metadata.project", "metadata.environment", "metadata.owner"):
        assert ((field, 1), *newest) in keys
    assert (("metadata.tags", 1), *newest) in keys
    chunks = await ChunkDocument.get_pymongo_collection().index_information()
    unique = [info for info in chunks.values() if info.get("unique")]
    assert [("session_id", 1), ("sequence_number", 1)] in [info["key"] for info in unique]
