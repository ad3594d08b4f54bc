"""Contract of the `HealthProbe` port (and of `UsageProbe`): every implementation answers True
while its dependency answers, False while it does not, never raises, and answers in bounded
time even when the dependency hangs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from pymongo import AsyncMongoClient

from lucid_sessions.adapters.fs.storage_probe import FilesystemStorageProbe
from lucid_sessions.adapters.memory import InMemoryHealthProbe
from lucid_sessions.adapters.mongo import MongoHealthProbe
from lucid_sessions.adapters.s3.blob_store import S3BlobStore, s3_store
from lucid_sessions.adapters.sqlite import SqliteDatabase
from lucid_sessions.domain.ports.health_probe import HealthProbe
from tests.contract.conftest import s3_blob_store
from tests.servers import free_port
from tests.servers_db import MongoecoServer, mongo_target_from_env, running_or_skip
from tests.servers_s3 import S3Server

pytestmark = pytest.mark.anyio

BOUND_SECONDS = 10.0  # a probe answers within this, whatever the dependency does


class Dependency:
    """One implementation and the means to take its dependency down and bring it back."""

    probe: HealthProbe

    def take_down(self) -> None:
        raise NotImplementedError

    def bring_back(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the dependency holds."""


@contextmanager
def taken_down(dependency: Dependency) -> Iterator[None]:
    """The dependency down for the block, and back after it whatever the block did: a failed
    assert must not leave a shared server (the session's radosgw) hung for later tests."""
    dependency.take_down()
    try:
        yield
    finally:
        dependency.bring_back()


@dataclass
class Fake(Dependency):
    probe: InMemoryHealthProbe = field(default_factory=InMemoryHealthProbe)

    def take_down(self) -> None:
        self.probe.up = False

    def bring_back(self) -> None:
        self.probe.up = True


@dataclass
class Sqlite(Dependency):
    path: Path

    def __post_init__(self) -> None:
        self.probe = self.database = SqliteDatabase(self.path)
        self.database.open()

    def take_down(self) -> None:
        self.database.close()

    def bring_back(self) -> None:
        self.database.open()

    def close(self) -> None:
        self.database.close()


@dataclass
class Folders(Dependency):
    root: Path

    def __post_init__(self) -> None:
        self.folders = (self.root / "sessions", self.root / "chunks")
        self.bring_back()
        self.probe = self.storage = FilesystemStorageProbe(*self.folders)

    def take_down(self) -> None:
        self.folders[1].rmdir()

    def bring_back(self) -> None:
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)


@dataclass
class Mongo(Dependency):
    """A mongoeco server of this test's own: hung with SIGSTOP, then resumed."""

    server: MongoecoServer

    def __post_init__(self) -> None:
        self.client: AsyncMongoClient[Any] = AsyncMongoClient(
            self.server.url, serverSelectionTimeoutMS=1000
        )
        self.probe = MongoHealthProbe(self.client, timeout_seconds=1.0)

    def take_down(self) -> None:
        self.server.pause()

    def bring_back(self) -> None:
        self.server.resume()


@dataclass
class ObjectStore(Dependency):
    """The session's radosgw, hung with SIGSTOP, then resumed."""

    server: S3Server

    def __post_init__(self) -> None:
        self.probe = s3_blob_store(self.server, self.server.make_bucket())

    def take_down(self) -> None:
        self.server.gateway.pause()

    def bring_back(self) -> None:
        self.server.gateway.resume()

    def close(self) -> None:
        self.server.gateway.resume()  # SIGCONT again: harmless when it runs already


@pytest.fixture(params=["memory", "sqlite", "filesystem", "mongo", "s3"])
async def dependency(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Dependency]:
    made: Dependency
    if request.param == "memory":
        made = Fake()
    elif request.param == "sqlite":
        made = Sqlite(tmp_path / "probe.sqlite3")
    elif request.param == "filesystem":
        made = Folders(tmp_path / "data")
    elif request.param == "s3":
        made = ObjectStore(request.getfixturevalue("s3_server"))
    else:
        if mongo_target_from_env() is not None:
            pytest.skip("MONGODB_TEST_URL names a shared server: a hang is tested on mongoeco")
        with running_or_skip(MongoecoServer(tmp_path / "mongoeco")) as server:
            mongo = Mongo(server)
            try:
                yield mongo
            finally:
                server.resume()
                await mongo.client.close()
            return
    try:
        yield made
    finally:
        made.close()


async def ping(probe: HealthProbe) -> bool:
    with anyio.fail_after(BOUND_SECONDS):
        return await probe.ping()


async def test_up_down_and_back(dependency: Dependency) -> None:
    assert await ping(dependency.probe) is True
    with taken_down(dependency):
        assert await ping(dependency.probe) is False
        assert await ping(dependency.probe) is False
    assert await ping(dependency.probe) is True


async def test_an_object_store_that_was_never_there_is_down() -> None:
    store = S3BlobStore(
        s3_store("nowhere", endpoint=f"http://127.0.0.1:{free_port()}", addressing="path")
    )
    assert await ping(store) is False


async def test_a_server_that_was_never_there_is_down() -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", serverSelectionTimeoutMS=300
    )
    try:
        assert await ping(MongoHealthProbe(client, timeout_seconds=0.5)) is False
    finally:
        await client.close()


async def test_storage_usage_is_measured(tmp_path: Path) -> None:
    usage = await FilesystemStorageProbe(tmp_path).usage()
    assert usage.free_bytes > 0
    assert usage.used_bytes > 0
