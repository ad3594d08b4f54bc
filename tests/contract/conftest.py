"""Ports under contract: each fixture hands a test every implementation of one port.

"mongo" runs the Beanie adapters against the session's mongoeco wire server (or the real
server named by MONGODB_TEST_URL; `mongo_target` in tests/conftest.py), each test on a fresh
database; "s3" against the session's RADOS Gateway (`s3_server`), each test in a fresh bucket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.adapters.memory import (
    InMemoryBlobStore,
    InMemoryChunkIndex,
    InMemoryDataKeyStore,
    InMemoryPipelineStats,
    InMemorySessionLog,
    InMemorySessionRepository,
)
from lucid_sessions.adapters.memory.media_index import InMemoryMediaIndex
from lucid_sessions.adapters.mongo import MongoStores, open_mongo
from lucid_sessions.adapters.s3.blob_store import S3BlobStore
from lucid_sessions.adapters.sqlite import (
    SqliteChunkIndex,
    SqliteDatabase,
    SqliteDataKeyStore,
    SqliteMediaIndex,
    SqlitePipelineStats,
    SqliteSessionLog,
    SqliteSessionRepository,
)
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.chunk_index import ChunkIndex
from lucid_sessions.domain.ports.data_key_store import DataKeyStore
from lucid_sessions.domain.ports.media_index import MediaIndex
from lucid_sessions.domain.ports.pipeline_stats import PipelineStats
from lucid_sessions.domain.ports.session_log import SessionLog
from lucid_sessions.domain.ports.session_repository import (
    SessionPage,
    SessionQuery,
    SessionRepository,
    SessionSummary,
)
from lucid_sessions.domain.session import Session
from tests.servers_db import (
    MongoTarget,
    fresh_database_name,
)
from tests.servers_s3 import S3Server

# A factory per implementation; `reopen` gives a fresh adapter over the same storage (or None
# where storage does not outlive the object, as for the in-memory fake).
RepoFactory = Callable[[Path], tuple[SessionRepository, Callable[[], SessionRepository] | None]]

SESSION_REPOSITORIES = ["memory", "sqlite", "mongo"]
METADATA_STORES = ["memory", "sqlite", "mongo"]
BLOB_STORES = ["memory", "filesystem", "s3"]


class Opened:
    def __init__(self) -> None:
        self.databases: list[SqliteDatabase] = []

    def sqlite(self, path: Path) -> SqliteSessionRepository:
        database = SqliteDatabase(path / "sessions.sqlite3")
        database.open()
        self.databases.append(database)
        return SqliteSessionRepository(database)


# -- MongoDB -------------------------------------------------------------------------------------


@pytest.fixture
def mongo_url(mongo_target: MongoTarget) -> Iterator[str]:
    """A fresh database on the MongoDB target, dropped afterwards."""
    database = fresh_database_name()
    yield mongo_target.url(database)
    mongo_target.drop(database)


open_mongo_stores = open_mongo


@pytest.fixture
async def mongo_stores(mongo_url: str) -> AsyncIterator[MongoStores]:
    async with open_mongo_stores(mongo_url, server_selection_timeout_ms=5000) as stores:
        yield stores


class ReopenedMongoRepository(SessionRepository):
    """A new client (and `init_beanie`) over the same database, opened on first use, because
    `reopen` is synchronous while opening is not."""

    def __init__(self, url: str, stack: AsyncExitStack) -> None:
        self._url, self._stack = url, stack
        self._stores: MongoStores | None = None

    async def _repo(self) -> SessionRepository:
        if self._stores is None:
            self._stores = await self._stack.enter_async_context(open_mongo_stores(self._url))
        return self._stores.sessions

    async def add(self, session: Session) -> None:
        await (await self._repo()).add(session)

    async def get(self, session_id: str, *, fresh: bool = False) -> Session:
        return await (await self._repo()).get(session_id)

    async def save(self, session: Session) -> None:
        await (await self._repo()).save(session)

    async def delete(self, session_id: str, expected_version: int | None = None) -> None:
        await (await self._repo()).delete(session_id, expected_version)

    async def list(self, query: SessionQuery) -> SessionPage:
        return await (await self._repo()).list(query)

    async def summarize(self, owner: str | None = None) -> SessionSummary:
        return await (await self._repo()).summarize(owner)


# -- ports ---------------------------------------------------------------------------------------


@pytest.fixture(params=SESSION_REPOSITORIES)
async def session_repo_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SessionRepository, Callable[[], SessionRepository] | None]]:
    opened = Opened()
    if request.param == "memory":
        yield InMemorySessionRepository(), None
    elif request.param == "sqlite":
        yield opened.sqlite(tmp_path), lambda: opened.sqlite(tmp_path)
    elif request.param == "mongo":
        url = request.getfixturevalue("mongo_url")
        async with AsyncExitStack() as stack:
            stores = await stack.enter_async_context(open_mongo_stores(url))
            yield stores.sessions, lambda: ReopenedMongoRepository(url, stack)
    for database in opened.databases:
        database.close()


@pytest.fixture
def session_repo(
    session_repo_pair: tuple[SessionRepository, Callable[[], SessionRepository] | None],
) -> SessionRepository:
    return session_repo_pair[0]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "store.sqlite3")
    database.open()
    yield database
    database.close()


T = TypeVar("T")


def _metadata_store(
    request: pytest.FixtureRequest, fake: Callable[[], T], mongo: str, sqlite: Callable[[Any], T]
) -> T:
    """The implementation `request.param` names: the fake, the MongoDB adapter, or SQLite."""
    if request.param == "memory":
        return fake()
    if request.param == "mongo":
        stores: MongoStores = request.getfixturevalue("mongo_stores")
        found: T = getattr(stores, mongo)
        return found
    return sqlite(request.getfixturevalue("sqlite_db"))


@pytest.fixture(params=METADATA_STORES)
def chunk_index(request: pytest.FixtureRequest) -> ChunkIndex:
    return _metadata_store(request, InMemoryChunkIndex, "chunks", SqliteChunkIndex)


@pytest.fixture(params=METADATA_STORES)
def data_key_store(request: pytest.FixtureRequest) -> DataKeyStore:
    return _metadata_store(request, InMemoryDataKeyStore, "data_keys", SqliteDataKeyStore)


@pytest.fixture(params=METADATA_STORES)
def pipeline_stats(request: pytest.FixtureRequest) -> PipelineStats:
    return _metadata_store(request, InMemoryPipelineStats, "pipeline_stats", SqlitePipelineStats)


@pytest.fixture(params=METADATA_STORES)
def session_log(request: pytest.FixtureRequest) -> SessionLog:
    return _metadata_store(request, InMemorySessionLog, "session_log", SqliteSessionLog)


@pytest.fixture(params=METADATA_STORES)
def media_index(request: pytest.FixtureRequest) -> MediaIndex:
    return _metadata_store(request, InMemoryMediaIndex, "media", SqliteMediaIndex)


def s3_blob_store(server: S3Server, bucket: str, prefix: str = "") -> S3BlobStore:
    return S3BlobStore(server.store(bucket, prefix))


@pytest.fixture(params=BLOB_STORES)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return InMemoryBlobStore()
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        # A fresh bucket, and a prefix, as a site sharing a bucket would set one.
        return s3_blob_store(server, server.make_bucket(), prefix="lucid/chunks")
    return FilesystemBlobStore(tmp_path / "chunks")


# -- PKCS#11 (SoftHSM2) ----------------------------------------------------------------------------
