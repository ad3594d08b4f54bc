"""End-to-end fixtures: a real `lucid-sessions serve` process driven over HTTP.

Every e2e test runs against both configurations of the service: `embedded` (SQLite and the
filesystem, no cache) and `mongo+redis` (MongoDB through Beanie, on the mongoeco wire server
or MONGODB_TEST_URL, and a real redis-server as the cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ServiceProcess
from tests.servers_db import DatabaseServers, ServerUnavailable, database_servers

STACKS = ["embedded", "mongo+redis"]


@pytest.fixture(scope="session", params=STACKS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseServers | None]:
    if request.param == "embedded":
        yield None
        return
    try:
        with database_servers(tmp_path_factory.mktemp("databases")) as servers:
            yield servers
    except ServerUnavailable as exc:
        pytest.skip(f"database servers unavailable: {exc}")


@pytest.fixture(scope="session")
def stack_env(stack: DatabaseServers | None) -> dict[str, str]:
    """The environment that selects the configuration under test."""
    return {} if stack is None else dict(stack.env)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("server"), env=stack_env)
    service.start()
    yield service
    assert service.stop_gracefully(), "the server shuts down cleanly on SIGTERM"


@pytest.fixture
def client(server: ServiceProcess) -> Iterator[httpx.Client]:
    with server.client(timeout=30.0) as http:
        yield http


@pytest.fixture
def data_dir(server: ServiceProcess) -> Path:
    return server.data_dir
