"""Ports under contract: each fixture hands a test every implementation of one port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from lucid_sessions.adapters.fs.blobs import FilesystemBlobStore
from lucid_sessions.adapters.memory import (
    InMemoryBlobStore,
    InMemoryChunkIndex,
    InMemoryDataKeyStore,
    InMemoryPipelineStats,
    InMemorySessionRepository,
)
from lucid_sessions.adapters.sqlite import (
    SqliteChunkIndex,
    SqliteDatabase,
    SqliteDataKeyStore,
    SqlitePipelineStats,
    SqliteSessionRepository,
)
from lucid_sessions.domain.ports.chunks import BlobStore, ChunkIndex, DataKeyStore, PipelineStats
from lucid_sessions.domain.ports.sessions import SessionRepository

# A factory per implementation; `reopen` gives a fresh adapter over the same storage (or None
# where storage does not outlive the object, as for the in-memory fake).
RepoFactory = Callable[[Path], tuple[SessionRepository, Callable[[], SessionRepository] | None]]

SESSION_REPOSITORIES = ["memory", "sqlite"]
METADATA_STORES = ["memory", "sqlite"]
BLOB_STORES = ["memory", "filesystem"]


class Opened:
    def __init__(self) -> None:
        self.databases: list[SqliteDatabase] = []

    def sqlite(self, path: Path) -> SqliteSessionRepository:
        database = SqliteDatabase(path / "sessions.sqlite3")
        database.open()
        self.databases.append(database)
        return SqliteSessionRepository(database)


@pytest.fixture(params=SESSION_REPOSITORIES)
async def session_repo_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SessionRepository, Callable[[], SessionRepository] | None]]:
    opened = Opened()
    if request.param == "memory":
        yield InMemorySessionRepository(), None
    elif request.param == "sqlite":
        yield opened.sqlite(tmp_path), lambda: opened.sqlite(tmp_path)
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


@pytest.fixture(params=METADATA_STORES)
def chunk_index(request: pytest.FixtureRequest, tmp_path: Path) -> ChunkIndex:
    if request.param == "memory":
        return InMemoryChunkIndex()
    return SqliteChunkIndex(request.getfixturevalue("sqlite_db"))


@pytest.fixture(params=METADATA_STORES)
def data_key_store(request: pytest.FixtureRequest) -> DataKeyStore:
    if request.param == "memory":
        return InMemoryDataKeyStore()
    return SqliteDataKeyStore(request.getfixturevalue("sqlite_db"))


@pytest.fixture(params=METADATA_STORES)
def pipeline_stats(request: pytest.FixtureRequest) -> PipelineStats:
    if request.param == "memory":
        return InMemoryPipelineStats()
    return SqlitePipelineStats(request.getfixturevalue("sqlite_db"))


@pytest.fixture(params=BLOB_STORES)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return InMemoryBlobStore()
    return FilesystemBlobStore(tmp_path / "chunks")
